package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/twostep/twostep/internal/store/storetest"
)

// TestScaleOutSMSBudget: an SMS budget of N is N across three instances
// on one PostgreSQL (and Redis, when set), not N per instance (issue #6).
// Twelve users ask at once, spread over the instances, from one client IP
// whose hourly budget is 5: exactly 5 texts go out.
func TestScaleOutSMSBudget(t *testing.T) {
	t.Parallel()
	const budget, users = 5, 12
	env := []string{
		"TWOSTEP_SMS_BUDGET_IP_HOUR=5",
		"TWOSTEP_LIMITS_LOGIN_PER_IP=1000",
	}
	if os.Getenv(redisURLEnv) != "" {
		redisURL, _, _ := testRedis(t)
		env = append(env, "TWOSTEP_REDIS="+redisURL)
	}
	in, ob := smsInstance(t, storetest.PostgresDSN(t), env...)
	for i := range users {
		in.AddUser(t, fmt.Sprintf("u%02d", i))
	}
	srv := []*server{in.start(t), in.start(t), in.start(t)}
	toks := make([]string, users)
	for i := range toks {
		toks[i] = srv[i%3].login(t, fmt.Sprintf("u%02d", i)).str(t, "token")
	}
	res, errs := together(users, func(i int) (response, error) {
		return srv[i%3].send("POST", "/api/v1/setup/sms",
			map[string]string{"country": "US", "phone": fmt.Sprintf("(201) 555-01%02d", i)}, bearer(toks[i]))
	})
	count := map[int]int{}
	for i, r := range res {
		if errs[i] != nil {
			t.Error(errs[i])
		}
		count[r.status]++ // 0 for a request that failed
	}
	if count[200] != budget || count[429] != users-budget {
		t.Fatalf("statuses %v over three instances; want %d × 200 and %d × 429", count, budget, users-budget)
	}
	if n := len(ob.All(t)); n != budget {
		t.Fatalf("%d texts sent, want exactly the budget %d", n, budget)
	}
}
