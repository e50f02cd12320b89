// Package sqlq holds the one SQL dialect rule assentd's stores share: their
// queries are written with ? placeholders, which PostgreSQL spells $1, $2, ….
package sqlq

import (
	"strconv"
	"strings"
)

// Rebind rewrites the ? placeholders of query to $n for PostgreSQL and
// returns it unchanged for SQLite. The queries are the stores' own literals:
// no ? appears in them other than as a placeholder.
func Rebind(postgres bool, query string) string {
	if !postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
