package auth

import (
	"context"

	"github.com/twostep/twostep/internal/audit"
	"github.com/twostep/twostep/internal/model"
	"github.com/twostep/twostep/internal/notify"
)

// Security notifications (docs/notifications.md). record calls notify
// after every audited event; noticeKind is the one table of which events
// tell the person, so a new event (issue #15's helpdesk pass) is one line
// here.

// helpdeskPassIssued is the audit event issue #15 will record when the help
// desk issues a pass; it is mapped already so that issue only records it.
const helpdeskPassIssued = "helpdesk_pass_issued"

// noticeKind maps an audited event to the notice it causes, if any.
func (s *Service) noticeKind(c Client, name string, attrs map[string]string) (notify.Kind, bool) {
	switch name {
	case audit.FactorAdded:
		return notify.MethodAdded, true
	case audit.FactorRemoved:
		return notify.MethodRemoved, true
	case audit.RecoveryCodeUsed:
		return notify.RecoveryCodeUsed, true
	case audit.RecoveryCodesNew:
		// The set issued with a first method is part of that set-up,
		// whose own notice says so; only a regeneration is told apart.
		return notify.RecoveryCodesNew, attrs["factor_id"] == ""
	case audit.AdminAction:
		switch attrs["action"] {
		case "reset_mfa":
			return notify.MFAReset, true
		case "set_password":
			return notify.PasswordChanged, true
		}
	case audit.LoginOK:
		// A password sign-in from a browser that presented no valid
		// known-browser token (known.go) for this account; a remembered
		// device is known by definition.
		return notify.NewDevice, s.cfg.NotifyNewDevice && c.browser == browserNew && attrs["device"] == ""
	case helpdeskPassIssued:
		return notify.HelpdeskPass, true
	}
	return "", false
}

// notify queues the notice of an audited event. It never fails the
// caller: the action has happened, and a mail server or a full queue must
// not turn it into an error; problems are logged (and counted by the
// queue).
func (s *Service) notify(ctx context.Context, c Client, name, userID, username string, attrs map[string]string) {
	if s.d.Notify == nil || userID == "" {
		return
	}
	kind, ok := s.noticeKind(c, name, attrs)
	if !ok {
		return
	}
	to, err := s.recipients(ctx, userID)
	if err != nil {
		s.d.Log.WarnContext(ctx, "security notification not queued", "kind", kind, "user_id", userID, "error", err)
		return
	}
	n := notify.Notice{Kind: kind, UserID: userID, Username: username, At: s.d.Now(), IP: c.IP,
		Browser: notify.Summarize(ClassifyUserAgent(c.UserAgent)), Method: attrs["type"]}
	if err := s.d.Notify.Enqueue(ctx, n, to); err != nil {
		s.d.Log.WarnContext(ctx, "security notification not queued", "kind", kind, "user_id", userID, "error", err)
	}
}

// recipients are the user's e-mail address and the numbers of their
// active phones (opened here, where the factors' seal is known, and sealed
// again by the queue).
func (s *Service) recipients(ctx context.Context, userID string) (notify.Recipients, error) {
	email, sms := s.d.Notify.Channels()
	var to notify.Recipients
	if email {
		u, err := s.d.Store.UserByID(ctx, userID)
		if err != nil {
			return to, err
		}
		to.Email = u.Email
	}
	if sms {
		fs, err := s.activeFactors(ctx, userID)
		if err != nil {
			return to, err
		}
		for _, f := range fs {
			if f.Type != model.FactorSMS {
				continue
			}
			e164, err := s.d.Keys.Open(f.KeyID, f.Secret, factorAAD(f.ID))
			if err != nil {
				s.d.Log.WarnContext(ctx, "phone of factor not opened for a notification", "factor_id", f.ID, "error", err)
				continue
			}
			to.Phones = append(to.Phones, string(e164))
		}
	}
	return to, nil
}
