package sqlq

import "testing"

func TestRebind(t *testing.T) {
	q := `UPDATE devices SET token_hash = ? WHERE id = ? AND token_hash NOT LIKE 'revoked:%'`
	if got := Rebind(false, q); got != q {
		t.Fatalf("SQLite: %q", got)
	}
	want := `UPDATE devices SET token_hash = $1 WHERE id = $2 AND token_hash NOT LIKE 'revoked:%'`
	if got := Rebind(true, q); got != want {
		t.Fatalf("PostgreSQL: %q", got)
	}
}
