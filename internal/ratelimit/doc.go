// Package ratelimit owns twostep's attempt counters: per-IP and per-user
// request limits, the back-off after consecutive second-factor failures, and
// (later) the SMS budgets against toll fraud.
//
// NIST SP 800-63B §5.2.2 requires verifiers to rate-limit failed
// authentication attempts, and OWASP ASVS V2.2.1 asks for anti-automation
// controls against brute force and credential testing. Both only work if the
// counting cannot be bypassed, so the package is built on three rules:
//
//   - Counting is atomic in the storage (docs/throttling.md): parallel
//     requests each get their own count and cannot slip past a limit.
//   - Every check fails closed: a storage error is returned to the caller,
//     which refuses the request. No code path answers "allowed" without a
//     successful count.
//   - Storage sits behind the small [Backend] interface, so the policy in
//     [Limiter] and [Backoff] is shared by the in-process [Memory] backend and
//     the shared backends (Redis) that make limits hold across instances.
//
// Counters use fixed windows: a key's window starts with its first event and
// is not extended by later ones. That is cheap and atomic on every backend; its
// known cost is that a client can spend a full budget at the end of one window
// and another at the start of the next, so a Limit allows at most 2·Count
// events in any span of one Window.
//
// Keys share one namespace per Backend. Callers prefix them by purpose (for
// example "login:ip:"+ip); [Backoff] uses the prefixes "f:" and "l:".
package ratelimit
