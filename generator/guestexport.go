package generator

import (
	"errors"

	"github.com/dave/jennifer/jen"
)

// guestExports emits the //go:wasmexport functions of an interface the
// world exports.
func (e *emitter) guestExports() ([]jen.Code, error) {
	return nil, errors.New("guest exports are not generated yet")
}
