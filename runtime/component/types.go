package component

// A Type is a component type definition as written: a value type, a
// function, component, instance or resource type.
type Type interface{ isType() }

// A Prim is a primitive value type.
type Prim uint8

// Primitive value types.
const (
	Bool Prim = iota + 1
	S8
	U8
	S16
	U16
	S32
	U32
	S64
	U64
	F32
	F64
	Char
	String
)

var primNames = [...]string{"", "bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32", "f64", "char", "string"}

func (p Prim) String() string {
	if int(p) < len(primNames) {
		return primNames[p]
	}
	return "prim?"
}

// A ValType is a primitive or a reference to a type by index.
type ValType struct {
	Prim  Prim   // zero for an index
	Index uint32 // when Prim is zero
}

// Value types.
type (
	PrimType   struct{ Prim Prim }
	RecordType struct{ Fields []Field }
	Field      struct {
		Name string
		Type ValType
	}
	VariantType struct{ Cases []Case }
	Case        struct {
		Name string
		Type *ValType
	}
	ListType   struct{ Elem ValType }
	TupleType  struct{ Elems []ValType }
	FlagsType  struct{ Names []string }
	EnumType   struct{ Names []string }
	OptionType struct{ Elem ValType }
	ResultType struct{ OK, Err *ValType }
	OwnType    struct{ Resource uint32 }
	BorrowType struct{ Resource uint32 }
)

// FuncType is a function type. Result is nil for none.
type FuncType struct {
	Params []Field
	Result *ValType
}

// ResourceType is a resource the component defines: representation i32,
// with an optional destructor (a core function index).
type ResourceType struct{ Dtor *uint32 }

// InstanceType and ComponentType are sequences of declarations, each with
// its own type index space.
type (
	InstanceType  struct{ Decls []Decl }
	ComponentType struct{ Decls []Decl }
)

// A Decl is one declaration of an instance or component type: a Def that
// is a TypeDef, CoreTypeDef, Alias (outer), Import (component types only)
// or Export (as an ExternDesc).
type Decl struct {
	Def Def
}

func (PrimType) isType()      {}
func (RecordType) isType()    {}
func (VariantType) isType()   {}
func (ListType) isType()      {}
func (TupleType) isType()     {}
func (FlagsType) isType()     {}
func (EnumType) isType()      {}
func (OptionType) isType()    {}
func (ResultType) isType()    {}
func (OwnType) isType()       {}
func (BorrowType) isType()    {}
func (FuncType) isType()      {}
func (ResourceType) isType()  {}
func (InstanceType) isType()  {}
func (ComponentType) isType() {}
