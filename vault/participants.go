package vault

import "encoding/json"

// participantsOf returns the people a consent record names: the principal
// of each ParticipantAdded event, in order (late joiners included). It
// reads only those fields; ok is false for a record it cannot read (the
// record itself is checked by the consent package).
func participantsOf(record []byte) (ps []Participant, ok bool) {
	var r struct {
		Events []struct {
			Type      string `json:"type"`
			Principal *struct {
				Name  string `json:"name"`
				Email string `json:"email"`
			} `json:"principal"`
		} `json:"events"`
	}
	out := []Participant{}
	if json.Unmarshal(record, &r) != nil {
		return out, false
	}
	for _, e := range r.Events {
		if e.Type == "ParticipantAdded" && e.Principal != nil {
			out = append(out, Participant{Name: e.Principal.Name, Email: e.Principal.Email})
		}
	}
	return out, true
}

func sameParticipants(a, b []Participant) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
