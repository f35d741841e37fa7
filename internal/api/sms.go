package api

import (
	"net/http"

	"github.com/twostep/twostep/internal/auth"
	"github.com/twostep/twostep/internal/phone"
)

// POST /api/v1/setup/sms {"country":"US","phone":"(201) 555-0123"}
func (a *API) setupSMS(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Country string `json:"country"`
		Phone   string `json:"phone"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	st, err := a.svc.StartSMS(r.Context(), a.client(r), cur, in.Country, in.Phone)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"factor_id": st.FactorID, "phone": st.Phone, "expires_in": int(st.ExpiresIn.Seconds())})
	return nil
}

// POST /api/v1/setup/sms/confirm {"code"}
func (a *API) setupSMSConfirm(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		Code           string `json:"code"`
		RememberDevice bool   `json:"remember_device"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := a.svc.ConfirmSMS(r.Context(), a.client(r), cur, auth.Proof{Code: in.Code, Remember: in.RememberDevice})
	if err != nil {
		return err
	}
	a.writePassed(w, res, true)
	return nil
}

// POST /api/v1/challenge/sms {"factor_id"?}
func (a *API) challengeSMS(w http.ResponseWriter, r *http.Request, cur auth.Current) error {
	var in struct {
		FactorID string `json:"factor_id"`
	}
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	st, err := a.svc.ChallengeSMS(r.Context(), a.client(r), cur, in.FactorID)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"factor_id": st.FactorID, "phone": st.Phone, "expires_in": int(st.ExpiresIn.Seconds())})
	return nil
}

// GET /api/v1/countries — the picker's list: ISO code, name, calling code,
// an example mobile number.
func (a *API) countries(w http.ResponseWriter, r *http.Request) error {
	type country struct {
		Code        string `json:"code"`
		Name        string `json:"name"`
		CallingCode int    `json:"calling_code"`
		Example     string `json:"example,omitempty"`
	}
	cs := phone.Countries()
	out := make([]country, len(cs))
	for i, c := range cs {
		out[i] = country{c.Code, c.Name, c.CallingCode, phone.Example(c.Code)}
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	writeJSON(w, map[string]any{"countries": out})
	return nil
}
