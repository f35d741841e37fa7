package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
)

// POST /api/v1/setup/plan {"methods":["totp","sms"]}
func (a *API) setupPlan(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Methods []string `json:"methods"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	steps, err := a.svc.Plan(r.Context(), cur, in.Methods)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"steps": steps})
	return nil
}

// POST /api/v1/setup/totp {"name"?}
func (a *API) setupTOTP(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	st, err := a.svc.StartTOTP(r.Context(), a.client(r), cur, in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{
		"factor_id":   st.FactorID,
		"secret":      st.Secret,
		"otpauth_uri": st.OTPAuthURI,
		"qr_png":      base64.StdEncoding.EncodeToString(st.QRPNG),
	})
	return nil
}

// POST /api/v1/setup/totp/confirm {"code","factor_id"?}
func (a *API) setupTOTPConfirm(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Code           string `json:"code"`
		FactorID       string `json:"factor_id"`
		RememberDevice bool   `json:"remember_device"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := a.svc.ConfirmTOTP(r.Context(), a.client(r), cur, auth.Proof{FactorID: in.FactorID, Code: in.Code, Remember: in.RememberDevice})
	if err != nil {
		return err
	}
	a.writePassed(w, res, true)
	return nil
}

// writePassed answers a second factor that passed: the rotated aal2 token
// (also as the cookie), and what applies — the remembered device, what
// comes next after a set-up, the recovery codes of the first method.
func (a *API) writePassed(w http.ResponseWriter, res auth.Passed, setup bool) {
	a.cookies.SetPassed(w, res)
	out := map[string]any{"token": res.Token, "aal": res.AAL}
	if setup {
		out["next"] = res.Next
	}
	if res.RecoveryCodes != nil {
		out["recovery_codes"] = res.RecoveryCodes
	}
	if res.Device.Token != "" {
		out["device"] = map[string]any{"id": res.Device.ID, "expires_at": res.Device.ExpiresAt}
	}
	writeJSON(w, out)
}

// POST /api/v1/verify {"method","code","remember_device"?}; for
// "webauthn" {"method","ceremony","credential":{...},"remember_device"?}.
func (a *API) verify(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Method         string          `json:"method"`
		Code           string          `json:"code"`
		Ceremony       string          `json:"ceremony"`
		Credential     json.RawMessage `json:"credential"`
		RememberDevice bool            `json:"remember_device"`
	}
	if err := decodeLimit(w, r, &in, maxCredentialBody); err != nil {
		return err
	}
	p := auth.Proof{Method: in.Method, Code: in.Code, Remember: in.RememberDevice}
	if in.Method == "webauthn" {
		p.Code, p.Credential = in.Ceremony, in.Credential
	}
	res, err := a.svc.Verify(r.Context(), a.client(r), cur, p)
	if err != nil {
		return err
	}
	a.writePassed(w, res, false)
	return nil
}
