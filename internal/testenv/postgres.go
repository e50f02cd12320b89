package testenv

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
)

// PostgresSchema needs a PostgreSQL server, makes an empty schema of the
// test's own on it (named prefix + random hex) and returns a DSN whose
// search_path is that schema. The schema is dropped when the test ends, so
// tests sharing one server never see each other's tables.
func PostgresSchema(t testing.TB, prefix string) (dsn, schema string) {
	t.Helper()
	base := RequirePostgres(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema = prefix + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, schema
}
