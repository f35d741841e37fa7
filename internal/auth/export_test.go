package auth

import "context"

// SessionWatch and PollSessions let the tests drive the session watch one
// poll at a time on the fixture's clock (serve runs WatchSessions).
type SessionWatch = sessionWatch

func (s *Service) PollSessions(ctx context.Context, w *SessionWatch) error {
	return s.pollSessions(ctx, w)
}
