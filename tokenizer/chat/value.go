package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a template syntax or runtime error with its position in the
// template source (1-based line and column; column counts bytes).
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return "chat template: " + e.Msg
	}
	return fmt.Sprintf("chat template:%d:%d: %s", e.Line, e.Col, e.Msg)
}

// RaisedError is returned by Render when the template calls
// raise_exception(msg); Msg is the template's message.
type RaisedError struct {
	Line, Col int
	Msg       string
}

func (e *RaisedError) Error() string {
	return fmt.Sprintf("chat template:%d:%d: raise_exception: %s", e.Line, e.Col, e.Msg)
}

// plainErr is an error without a position yet; evaluation attaches the
// position of the innermost expression or statement.
type plainErr struct{ msg string }

func (e *plainErr) Error() string { return e.msg }

func errorf(format string, args ...any) error {
	return &plainErr{fmt.Sprintf(format, args...)}
}

func lineCol(src string, pos int) (int, int) {
	if pos > len(src) {
		pos = len(src)
	}
	if pos < 0 {
		pos = 0
	}
	line := 1 + strings.Count(src[:pos], "\n")
	col := pos - strings.LastIndexByte(src[:pos], '\n')
	return line, col
}

func newError(src string, pos int, format string, args ...any) error {
	l, c := lineCol(src, pos)
	return &Error{Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
}

// locate attaches a source position to an error that has none.
func locate(src string, pos int, err error) error {
	var pe *plainErr
	if errors.As(err, &pe) {
		return newError(src, pos, "%s", pe.msg)
	}
	var re *raiseErr
	if errors.As(err, &re) {
		l, c := lineCol(src, pos)
		return &RaisedError{Line: l, Col: c, Msg: re.msg}
	}
	return err
}

type raiseErr struct{ msg string }

func (e *raiseErr) Error() string { return e.msg }

// ---- value model ----
//
// Template values are: nil (None), bool, int64, float64, string, []any
// (lists and tuples), *Map (dicts, insertion-ordered), *namespace, *macro,
// *loopObj, *method, builtin, and undefined.

// Map is an insertion-ordered dictionary, the template counterpart of a
// Python dict (and of a JSON object: key order is preserved for tojson).
type Map struct {
	keys []any
	vals []any
	idx  map[any]int
}

// NewMap returns an empty ordered map.
func NewMap() *Map { return &Map{idx: map[any]int{}} }

// Len returns the number of entries.
func (m *Map) Len() int { return len(m.keys) }

// Set adds or replaces key; a new key goes last. v may be any value
// accepted by Template.Render.
func (m *Map) Set(key string, v any) error {
	cv, err := toValue(v)
	if err != nil {
		return err
	}
	m.put(key, cv)
	return nil
}

// Get returns the value stored under key.
func (m *Map) Get(key string) (any, bool) { return m.lookup(key) }

// Keys returns the keys in insertion order, formatted like Python str().
func (m *Map) Keys() []string {
	out := make([]string, len(m.keys))
	for i, k := range m.keys {
		out[i] = toStr(k)
	}
	return out
}

func hashKey(k any) (any, bool) {
	switch x := k.(type) {
	case nil, string, int64:
		return x, true
	case bool:
		if x {
			return int64(1), true
		}
		return int64(0), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return int64(x), true
		}
		return x, true
	case undefined:
		return nil, false
	}
	return nil, false
}

func (m *Map) put(k, v any) {
	h, ok := hashKey(k)
	if !ok {
		h = fmt.Sprintf("%p", k)
	}
	if i, ok := m.idx[h]; ok {
		m.vals[i] = v
		return
	}
	m.idx[h] = len(m.keys)
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
}

func (m *Map) lookup(k any) (any, bool) {
	h, ok := hashKey(k)
	if !ok {
		return nil, false
	}
	i, ok := m.idx[h]
	if !ok {
		return nil, false
	}
	return m.vals[i], true
}

type namespace struct{ m *Map }

type macro struct {
	def    *macroDef
	sc     *scope
	caller *macro
}

type builtin struct {
	name string
	fn   func(e *evaluator, a *callArgs) (any, error)
}

type method struct {
	recv any
	name string
}

type undefined struct {
	hint string // the error message used when the value is misused
}

func undefName(name string) undefined { return undefined{hint: "'" + name + "' is undefined"} }

func undefAttr(obj any, name string) undefined {
	return undefined{hint: fmt.Sprintf("'%s object' has no attribute '%s'", typeName(obj), name)}
}

func (u undefined) err() error {
	if u.hint == "" {
		return errorf("value is undefined")
	}
	return errorf("%s", u.hint)
}

type loopObj struct {
	items  []any
	index0 int
}

// ---- conversion from Go values ----

// toValue converts a Go value passed to Render into a template value.
func toValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, *Map, *namespace, *macro, *builtin, *method, undefined:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint64:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case json.Number:
		return numberValue(string(x)), nil
	case json.RawMessage:
		return DecodeJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := toValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case map[string]any:
		m := NewMap()
		for _, k := range goMapKeys(x) {
			c, err := toValue(x[k])
			if err != nil {
				return nil, err
			}
			m.put(k, c)
		}
		return m, nil
	case func(args ...any) (any, error):
		return &builtin{name: "function", fn: func(e *evaluator, a *callArgs) (any, error) { return x(a.pos...) }}, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			c, err := toValue(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		tmp := map[string]any{}
		for _, k := range rv.MapKeys() {
			tmp[k.String()] = rv.MapIndex(k).Interface()
		}
		return toValue(tmp)
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return toValue(rv.Elem().Interface())
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	}
	return nil, fmt.Errorf("chat: unsupported Go value of type %T", v)
}

// goMapKeys orders the keys of a Go map: "role", "content" first (the usual
// order of chat messages), then the rest sorted.
func goMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case "role":
			return 0
		case "content":
			return 1
		}
		return 2
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func numberValue(s string) any {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// ---- Python semantics ----

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case *Map:
		return "dict"
	case *namespace:
		return "Namespace"
	case *macro:
		return "Macro"
	case *loopObj:
		return "LoopContext"
	case *builtin, *method:
		return "builtin_function_or_method"
	case undefined:
		return "Undefined"
	}
	return fmt.Sprintf("%T", v)
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case *Map:
		return x.Len() > 0
	}
	return true
}

// toStr is Python's str().
func toStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case undefined:
		return ""
	}
	return repr(v)
}

// reprLimit truncates the repr() of huge (shared, nested) values.
const reprLimit = 16 << 20

func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v, nil)
	return b.String()
}

// writeRepr writes Python's repr() of v; stack holds the dicts being
// written, to print a dict that contains itself as {...} like Python.
func writeRepr(b *strings.Builder, v any, stack []*Map) {
	if b.Len() > reprLimit || len(stack) > 1000 {
		return
	}
	if m, ok := v.(*Map); ok {
		for _, s := range stack {
			if s == m {
				b.WriteString("{...}")
				return
			}
		}
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(pyFloat(x))
	case string:
		writePyStr(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, stack)
		}
		b.WriteByte(']')
	case *Map:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k, stack)
			b.WriteString(": ")
			writeRepr(b, x.vals[i], append(stack, x))
		}
		b.WriteByte('}')
	case *namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.m, stack)
		b.WriteByte('>')
	case *macro:
		fmt.Fprintf(b, "<Macro '%s'>", x.def.name)
	case *builtin:
		fmt.Fprintf(b, "<built-in function %s>", x.name)
	case *method:
		fmt.Fprintf(b, "<built-in method %s of %s object>", x.name, typeName(x.recv))
	case *loopObj:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.index0+1, len(x.items))
	case undefined:
		b.WriteString("Undefined")
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

// writePyStr writes Python's repr() of a string.
func writePyStr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(b, "\\x%02x", s[i])
			i++
			continue
		}
		i += n
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, "\\x%02x", r)
		case r >= 0x80 && !unicode.IsPrint(r):
			switch {
			case r <= 0xff:
				fmt.Fprintf(b, "\\x%02x", r)
			case r <= 0xffff:
				fmt.Fprintf(b, "\\u%04x", r)
			default:
				fmt.Fprintf(b, "\\U%08x", r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

// pyFloat formats a float like Python's repr().
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0"
		}
		return s
	}
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, exp)
}

// numeric returns v as a number when it is bool, int or float.
func numeric(v any) (i int64, f float64, isFloat, ok bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, 1, false, true
		}
		return 0, 0, false, true
	case int64:
		return x, float64(x), false, true
	case float64:
		return 0, x, true, true
	}
	return 0, 0, false, false
}

// eqBudget bounds the nodes one comparison visits: values built from
// shared sub-values (possible with namespaces) could otherwise take
// exponential time. An exhausted budget compares unequal.
const eqBudget = 1 << 20

func pyEqual(a, b any) bool {
	n := eqBudget
	return pyEq(a, b, &n)
}

func pyEq(a, b any, budget *int) bool {
	*budget--
	if *budget < 0 {
		return false
	}
	if ai, af, afl, ok := numeric(a); ok {
		bi, bf, bfl, ok := numeric(b)
		if !ok {
			return false
		}
		if afl || bfl {
			return af == bf
		}
		return ai == bi
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		if len(x) > 0 && &x[0] == &y[0] {
			return true
		}
		for i := range x {
			if !pyEq(x[i], y[i], budget) {
				return false
			}
		}
		return true
	case *Map:
		y, ok := b.(*Map)
		if !ok || x.Len() != y.Len() {
			return false
		}
		if x == y {
			return true
		}
		for i, k := range x.keys {
			v, ok := y.lookup(k)
			if !ok || !pyEq(x.vals[i], v, budget) {
				return false
			}
		}
		return true
	case undefined:
		_, ok := b.(undefined)
		return ok
	case *method:
		y, ok := b.(*method)
		return ok && x.name == y.name && pyEq(x.recv, y.recv, budget)
	}
	return a == b
}

// pyCompare returns -1, 0 or 1, or an error when the values are not ordered.
func pyCompare(a, b any) (int, error) {
	if u, ok := a.(undefined); ok {
		return 0, u.err()
	}
	if u, ok := b.(undefined); ok {
		return 0, u.err()
	}
	if ai, af, afl, ok := numeric(a); ok {
		if bi, bf, bfl, ok := numeric(b); ok {
			if afl || bfl {
				return cmp3(af, bf), nil
			}
			return cmp3(ai, bi), nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				if pyEqual(x[i], y[i]) {
					continue
				}
				return pyCompare(x[i], y[i])
			}
			return cmp3(len(x), len(y)), nil
		}
	}
	return 0, errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}

func cmp3[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// contains implements Python's "x in container".
func contains(container, x any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := x.(string)
		if !ok {
			if u, ok := x.(undefined); ok {
				return false, u.err()
			}
			return false, errorf("'in <string>' requires string as left operand, not %s", typeName(x))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, e := range c {
			if pyEqual(e, x) {
				return true, nil
			}
		}
		return false, nil
	case *Map:
		if _, ok := hashKey(x); !ok {
			if _, isU := x.(undefined); isU {
				return false, nil
			}
			return false, errorf("unhashable type: '%s'", typeName(x))
		}
		_, ok := c.lookup(x)
		return ok, nil
	case undefined:
		return false, nil
	case *namespace:
		_, ok := c.m.lookup(x)
		return ok, nil
	}
	return false, errorf("argument of type '%s' is not iterable", typeName(container))
}

// iterate returns the items a for loop visits.
func iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case *Map:
		return append([]any(nil), x.keys...), nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case undefined:
		return nil, nil
	case *loopObj:
		return x.items, nil
	}
	return nil, errorf("'%s' object is not iterable", typeName(v))
}

// length is Python's len().
func length(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), nil
	case []any:
		return len(x), nil
	case *Map:
		return x.Len(), nil
	case undefined:
		return 0, nil
	case *loopObj:
		return len(x.items), nil
	}
	return 0, errorf("object of type '%s' has no len()", typeName(v))
}
