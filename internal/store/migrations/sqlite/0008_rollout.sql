-- Company roll-out: the grace period of group policies (docs/rollout.md).
--
-- A user who must set up a second factor but has none their policy allows
-- may postpone it until a deadline. The deadline is fixed at the user's
-- first sign-in under the policy and never renews by itself, so what is
-- stored is when that was and under which policy, not a running timer:
--   grace_policy     the policy's key (its group, or * for everyone) the
--                    start was fixed under; '' for never
--   grace_started_at that first sign-in (Unix milliseconds, 0 for never)
--   grace_extended   milliseconds an administrator added
--                    (twostep user grace NAME --extend 7d)
-- The deadline is grace_started_at + the policy's grace period +
-- grace_extended, so shortening a policy's grace period shortens every
-- running one, and moving the user to a policy with another key starts
-- that policy's grace at the next sign-in.
ALTER TABLE users ADD COLUMN grace_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN grace_started_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN grace_extended BIGINT NOT NULL DEFAULT 0;
