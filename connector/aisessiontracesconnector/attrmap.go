package aisessiontracesconnector

import (
	"encoding/json"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// attrMap is a copy of an attribute map that survives a JSON round trip in
// the storage with its value types (plain JSON would turn every int into a
// double).
type attrMap []typedAttr

type typedAttr struct {
	Key    string   `json:"k"`
	Str    *string  `json:"s,omitempty"`
	Int    *int64   `json:"i,omitempty"`
	Double *float64 `json:"d,omitempty"`
	Bool   *bool    `json:"b,omitempty"`
	Other  any      `json:"o,omitempty"` // arrays, maps, bytes: as pdata's raw form
}

func newAttrMap(m pcommon.Map) attrMap {
	out := make(attrMap, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		a := typedAttr{Key: k}
		switch v.Type() {
		case pcommon.ValueTypeStr:
			s := v.Str()
			a.Str = &s
		case pcommon.ValueTypeInt:
			i := v.Int()
			a.Int = &i
		case pcommon.ValueTypeDouble:
			d := v.Double()
			a.Double = &d
		case pcommon.ValueTypeBool:
			b := v.Bool()
			a.Bool = &b
		default:
			a.Other = v.AsRaw()
		}
		out = append(out, a)
		return true
	})
	return out
}

func (am attrMap) copyTo(m pcommon.Map) {
	for _, a := range am {
		switch {
		case a.Str != nil:
			m.PutStr(a.Key, *a.Str)
		case a.Int != nil:
			m.PutInt(a.Key, *a.Int)
		case a.Double != nil:
			m.PutDouble(a.Key, *a.Double)
		case a.Bool != nil:
			m.PutBool(a.Key, *a.Bool)
		case a.Other != nil:
			_ = m.PutEmpty(a.Key).FromRaw(a.Other)
		}
	}
}

func (am attrMap) toMap() pcommon.Map {
	m := pcommon.NewMap()
	am.copyTo(m)
	return m
}

// size is roughly how many bytes the map holds.
func (am attrMap) size() int {
	b, _ := json.Marshal(am)
	return len(b)
}
