package clocks

import "structs"

// datetimeMem is record wall-clock.datetime { seconds: u64, nanoseconds: u32 }.
type datetimeMem struct {
	_           structs.HostLayout
	Seconds     uint64
	Nanoseconds uint32
}
