package store_test

import (
	"testing"

	"github.com/twostep/twostep/internal/store/storetest"
)

func TestSQLite(t *testing.T)   { storetest.Run(t, storetest.NewSQLite) }
func TestPostgres(t *testing.T) { storetest.Run(t, storetest.NewPostgres) }
