package api

import (
	"encoding/json"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// maxCredentialBody bounds the calls that carry a browser's passkey answer:
// a registration with a full attestation certificate chain is larger than
// maxBody allows.
const maxCredentialBody = auth.MaxCredentialJSON + 4<<10

// writeCeremony answers a begun passkey ceremony: its id, for the finish
// call, and the options for navigator.credentials.
func writeCeremony(w http.ResponseWriter, c auth.Ceremony) {
	writeJSON(w, map[string]any{"ceremony": c.ID, "options": c.Options, "expires_at": c.Expires})
}

// POST /api/v1/setup/webauthn
func (a *API) setupWebAuthn(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	c, err := a.svc.StartPasskey(r.Context(), a.client(r), cur)
	if err != nil {
		return err
	}
	writeCeremony(w, c)
	return nil
}

// POST /api/v1/setup/webauthn/confirm {"ceremony","credential":{...},"name"?,"remember_device"?}
func (a *API) setupWebAuthnConfirm(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Ceremony       string          `json:"ceremony"`
		Credential     json.RawMessage `json:"credential"`
		Name           string          `json:"name"`
		RememberDevice bool            `json:"remember_device"`
	}
	if err := decodeLimit(w, r, &in, maxCredentialBody); err != nil {
		return err
	}
	res, err := a.svc.ConfirmPasskey(r.Context(), a.client(r), cur, auth.Proof{Code: in.Ceremony, Credential: in.Credential,
		Name: in.Name, Remember: in.RememberDevice})
	if err != nil {
		return err
	}
	a.writePassed(w, res, true)
	return nil
}

// POST /api/v1/challenge/webauthn
func (a *API) challengeWebAuthn(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	c, err := a.svc.ChallengePasskey(r.Context(), a.client(r), cur)
	if err != nil {
		return err
	}
	writeCeremony(w, c)
	return nil
}

// POST /api/v1/login/passkey — begins a passwordless sign-in.
func (a *API) loginPasskey(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.StartPasskeyLogin(r.Context(), a.client(r))
	if err != nil {
		return err
	}
	writeCeremony(w, c)
	return nil
}

// POST /api/v1/login/passkey/finish {"ceremony","credential":{...}} —
// answered as a login: an aal2 session, next "done".
func (a *API) loginPasskeyFinish(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Ceremony   string          `json:"ceremony"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := decodeLimit(w, r, &in, maxCredentialBody); err != nil {
		return err
	}
	res, err := a.svc.PasskeyLogin(r.Context(), a.client(r), in.Ceremony, in.Credential)
	if err != nil {
		return err
	}
	a.writeLogin(w, res)
	return nil
}

// PATCH /api/v1/factors/{id} {"name"}
func (a *API) factorRename(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := a.svc.RenameFactor(r.Context(), a.client(r), cur, r.PathValue("id"), in.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
