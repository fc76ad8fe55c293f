package backends

import "slices"

// Distinct returns ids without repeats, each identity at its first place:
// ids itself when it names none twice, a new slice otherwise. A backend
// picks from the result, so that a list naming one identity many times
// (a guest may name one hundreds of thousands of times within the host's
// budget for its settings) costs a handshake each identity's checks once,
// not once per place: a later place of an identity can be picked only if
// its first could. Identities are told apart by pointer.
func Distinct(ids []*Identity) []*Identity {
	if len(ids) > scanIdentities {
		return distinct(ids)
	}
	for i := 1; i < len(ids); i++ {
		if slices.Contains(ids[:i], ids[i]) {
			return distinct(ids)
		}
	}
	return ids
}

// scanIdentities is the length up to which Distinct compares each
// identity with those before it rather than indexing them.
const scanIdentities = 16

func distinct(ids []*Identity) []*Identity {
	seen := make(map[*Identity]struct{}, min(len(ids), 1024))
	out := make([]*Identity, 0, min(len(ids), 1024))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
