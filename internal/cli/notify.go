package cli

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/notify"
	"github.com/twostep/twostep/internal/notify/mailer"
)

// notifyQueue builds the security-notification queue from notify.*, or
// returns nil when no channel is on. Every command gets it, so an
// administrator's `twostep user reset-mfa` queues its notice in the
// database for the running server's worker to send.
func (a *app) notifyQueue(now func() time.Time) *notify.Queue {
	n := a.cfg.Notify
	if len(n.Channels) == 0 {
		return nil
	}
	q := notify.NewQueue(notify.QueueConfig{
		Email: slices.Contains(n.Channels, notify.Email), SMS: slices.Contains(n.Channels, notify.SMS),
		Size: n.QueueSize, SMSPerUserDay: n.SMSPerUserDay,
	}, a.store, a.keys, a.log, now)
	q.OnQueued = func(ch string) { a.metrics.Notification(ch, "queued") }
	q.OnDropped = func(ch, reason string) { a.metrics.Notification(ch, "dropped_"+reason) }
	return q
}

// notifyWorker builds serve's sender of the queue, or nil when no channel
// is on.
func (a *app) notifyWorker() (*notify.Worker, error) {
	if a.notices == nil {
		return nil, nil
	}
	n := a.cfg.Notify
	var m notify.Mailer
	domain := "twostep.invalid"
	if slices.Contains(n.Channels, notify.Email) {
		mm, err := mailer.New(mailer.Config{Host: n.SMTP.Host, Port: n.SMTP.Port, TLS: n.SMTP.TLS,
			Username: n.SMTP.Username, Password: n.SMTP.Password, From: n.From, Timeout: n.SMTP.Timeout})
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		m = mm
		if from, err := mail.ParseAddress(n.From); err == nil {
			domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
		}
	}
	brand := a.cfg.Brand.Name
	if brand == "" {
		brand = a.cfg.Issuer
	}
	zone, err := time.LoadLocation(a.cfg.Pages.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("pages.time_zone: %w", err)
	}
	w := notify.NewWorker(notify.WorkerConfig{
		Brand:           notify.Brand{Name: brand, Contact: a.cfg.Support.ContactURL, Chat: a.cfg.Support.ChatURL, Zone: zone},
		MessageIDDomain: domain,
		MaxAttempts:     n.MaxAttempts,
		RetryBase:       n.RetryBase,
		RetryMax:        n.RetryMax,
		// Each send is cut off at half the lease: the lease outlives the
		// longest send, so no other worker takes a row still being sent.
		// A worker killed while holding a row delays it by at most this.
		Lease: 2*n.SMTP.Timeout + 10*time.Second,
		Keep:  n.Keep,
	}, a.store, a.keys, m, a.sms, a.notices.Wake(), a.log, nil)
	w.OnSent = func(ch string) { a.metrics.Notification(ch, "sent") }
	w.OnRetry = func(ch string) { a.metrics.Notification(ch, "retried") }
	w.OnFailed = func(ch string) { a.metrics.Notification(ch, "failed") }
	return w, nil
}
