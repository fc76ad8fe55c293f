package testnet

import (
	"net/netip"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSAnswer answers the DNS query with the addresses addrs gives for its
// question: as A records for an A question (IPv4 addresses), as AAAA
// records for an AAAA one; others get no records. With truncated the
// answer says so (TC), for the resolver to ask again over TCP. A query
// that does not parse gets no answer (nil, nil); err is a failure to
// build the answer (more than a DNS message holds).
func DNSAnswer(query []byte, truncated bool, addrs func(dnsmessage.Question) []netip.Addr) (answer []byte, q dnsmessage.Question, err error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, q, nil
	}
	if q, err = p.Question(); err != nil {
		return nil, q, nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, Truncated: truncated})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	if q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeAAAA {
		for _, ip := range addrs(q) {
			if q.Type == dnsmessage.TypeA {
				b.AResource(rh, dnsmessage.AResource{A: ip.As4()})
			} else {
				b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: ip.As16()})
			}
		}
	}
	answer, err = b.Finish()
	return answer, q, err
}
