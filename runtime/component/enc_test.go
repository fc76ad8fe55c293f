package component

// A tiny encoder of component binaries for tests.

func u32(v uint32) []byte { return appendU32(nil, v) }

func name(s string) []byte { return appendName(nil, s) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// vec is a vector of items.
func vec(items ...[]byte) []byte { return cat(u32(uint32(len(items))), cat(items...)) }

// section is one section with its id and size.
func section(id byte, content []byte) []byte { return appendSection(nil, id, content) }

// comp is a component binary of sections.
func comp(sections ...[]byte) []byte {
	return cat([]byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}, cat(sections...))
}

// exitComponent imports wasi:cli/exit@ver with one function fn taking a
// result (as exit does) and lowers it.
func exitComponent(ver, fn string) []byte {
	instType := cat([]byte{0x42}, vec(
		cat([]byte{0x01, 0x6a, 0x00, 0x00}),                                           // type 0: result
		cat([]byte{0x01, 0x40}, vec(cat(name("status"), u32(0))), []byte{0x01, 0x00}), // type 1: func(status: result)
		cat([]byte{0x04, 0x00}, name(fn), []byte{0x01}, u32(1)),                       // export fn: func type 1
	))
	return comp(
		section(secType, vec(instType)),
		section(secImport, vec(cat([]byte{0x00}, name("wasi:cli/exit@"+ver), []byte{0x05}, u32(0)))),
		section(secAlias, vec(cat([]byte{0x01, 0x00}, u32(0), name(fn)))),
		section(secCanon, vec(cat([]byte{0x01, 0x00}, u32(0), vec()))),
	)
}
