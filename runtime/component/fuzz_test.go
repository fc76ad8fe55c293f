package component

import "testing"

// FuzzParse checks that Parse never panics and that what it accepts
// survives a second look (the definitions can be described).
func FuzzParse(f *testing.F) {
	f.Add(exitComponent("0.2.12", "exit"))
	f.Add(exitComponent("0.2.0", "exit-with-code"))
	f.Add(comp(section(secCanon, vec([]byte{0x02, 0x00}, []byte{0x03, 0x00}, []byte{0x04, 0x00}))))
	f.Add(comp(section(secType, vec([]byte{0x3f, 0x7f, 0x01, 0x00}, []byte{0x72, 0x01, 0x01, 'a', 0x79}))))
	f.Add(comp(section(secComponent, comp(section(secExport, vec(cat([]byte{0x00}, name("x"), []byte{0x01, 0x00, 0x00})))))))
	f.Add(comp(section(secCoreModule, []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00})))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		for _, d := range c.Defs {
			_ = describe(d)
		}
	})
}
