package api

import (
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/httpx"
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
		Code     string `json:"code"`
		FactorID string `json:"factor_id"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := a.svc.ConfirmTOTP(r.Context(), a.client(r), cur, in.FactorID, in.Code)
	if errors.Is(err, auth.ErrInvalidCode) {
		// A wrong code during set-up is a bad request (docs/api.md), not a failed sign-in.
		return &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_code", Msg: "That code is not valid. Check the time on your device and try the current code.", Err: err}
	}
	if err != nil {
		return err
	}
	a.writeConfirm(w, res)
	return nil
}

// writeConfirm answers a finished set-up: the rotated aal2 token (also as
// the cookie), what comes next, and the recovery codes on the first factor.
func (a *API) writeConfirm(w http.ResponseWriter, res auth.ConfirmResult) {
	a.cookies.SetSession(w, res.Token)
	out := map[string]any{"token": res.Token, "aal": res.AAL, "next": res.Next}
	if res.RecoveryCodes != nil {
		out["recovery_codes"] = res.RecoveryCodes
	}
	writeJSON(w, out)
}

// POST /api/v1/verify {"method","code","remember_device"?}
func (a *API) verify(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Method         string `json:"method"`
		Code           string `json:"code"`
		RememberDevice bool   `json:"remember_device"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := a.svc.Verify(r.Context(), a.client(r), cur, in.Method, in.Code)
	if in.Method == "sms" && errors.Is(err, auth.ErrCodeFormat) {
		return errSMSCodeFormat
	}
	if err != nil {
		return err
	}
	a.cookies.SetSession(w, res.Token)
	out := map[string]any{"token": res.Token, "aal": res.AAL}
	if in.RememberDevice {
		if d, ok := a.rememberDevice(w, r, res.Token); ok {
			out["device"] = map[string]any{"id": d.ID, "expires_at": d.ExpiresAt}
		}
	}
	writeJSON(w, out)
	return nil
}
