package chat

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

type filterFunc func(e *evaluator, v any, a *callArgs) (any, error)

type testFunc func(v any, a *callArgs) (bool, error)

var filters map[string]filterFunc

var tests map[string]testFunc

func init() {
	filters = map[string]filterFunc{
		"abs":         fAbs,
		"attr":        fAttr,
		"batch":       fBatch,
		"capitalize":  strFilter(pyCapitalize),
		"count":       fLength,
		"d":           fDefault,
		"default":     fDefault,
		"dictsort":    fDictsort,
		"e":           strFilter(htmlEscape),
		"escape":      strFilter(htmlEscape),
		"first":       fFirst,
		"float":       fFloat,
		"forceescape": strFilter(htmlEscape),
		"indent":      fIndent,
		"int":         fInt,
		"items":       fItems,
		"join":        fJoin,
		"last":        fLast,
		"length":      fLength,
		"list":        fList,
		"lower":       strFilter(strings.ToLower),
		"map":         fMap,
		"max":         func(e *evaluator, v any, a *callArgs) (any, error) { return fMinMax(v, a, 1) },
		"min":         func(e *evaluator, v any, a *callArgs) (any, error) { return fMinMax(v, a, -1) },
		"reject":      func(e *evaluator, v any, a *callArgs) (any, error) { return fSelect(e, v, a, false, false) },
		"rejectattr":  func(e *evaluator, v any, a *callArgs) (any, error) { return fSelect(e, v, a, false, true) },
		"replace":     fReplace,
		"reverse":     fReverse,
		"round":       fRound,
		"safe":        func(e *evaluator, v any, a *callArgs) (any, error) { return v, nil },
		"select":      func(e *evaluator, v any, a *callArgs) (any, error) { return fSelect(e, v, a, true, false) },
		"selectattr":  func(e *evaluator, v any, a *callArgs) (any, error) { return fSelect(e, v, a, true, true) },
		"sort":        fSort,
		"string":      func(e *evaluator, v any, a *callArgs) (any, error) { return toStr(v), nil },
		"sum":         fSum,
		"title":       strFilter(jinjaTitle),
		"tojson":      fToJSON,
		"trim":        fTrim,
		"unique":      fUnique,
		"upper":       strFilter(strings.ToUpper),
		"wordcount":   fWordcount,
	}
	tests = map[string]testFunc{
		"defined":     func(v any, a *callArgs) (bool, error) { _, u := v.(undefined); return !u, nil },
		"undefined":   func(v any, a *callArgs) (bool, error) { _, u := v.(undefined); return u, nil },
		"none":        func(v any, a *callArgs) (bool, error) { return v == nil, nil },
		"boolean":     func(v any, a *callArgs) (bool, error) { _, ok := v.(bool); return ok, nil },
		"true":        func(v any, a *callArgs) (bool, error) { b, ok := v.(bool); return ok && b, nil },
		"false":       func(v any, a *callArgs) (bool, error) { b, ok := v.(bool); return ok && !b, nil },
		"integer":     func(v any, a *callArgs) (bool, error) { _, ok := v.(int64); return ok, nil },
		"float":       func(v any, a *callArgs) (bool, error) { _, ok := v.(float64); return ok, nil },
		"number":      func(v any, a *callArgs) (bool, error) { _, _, _, ok := numeric(v); return ok, nil },
		"string":      func(v any, a *callArgs) (bool, error) { _, ok := v.(string); return ok, nil },
		"mapping":     func(v any, a *callArgs) (bool, error) { _, ok := v.(*Map); return ok, nil },
		"iterable":    tIterable,
		"sequence":    tSequence,
		"callable":    tCallable,
		"odd":         func(v any, a *callArgs) (bool, error) { return modTest(v, int64(2), 1) },
		"even":        func(v any, a *callArgs) (bool, error) { return modTest(v, int64(2), 0) },
		"divisibleby": tDivisibleBy,
		"eq":          tCmp("=="),
		"equalto":     tCmp("=="),
		"==":          tCmp("=="),
		"ne":          tCmp("!="),
		"!=":          tCmp("!="),
		"lt":          tCmp("<"),
		"lessthan":    tCmp("<"),
		"<":           tCmp("<"),
		"le":          tCmp("<="),
		"<=":          tCmp("<="),
		"gt":          tCmp(">"),
		"greaterthan": tCmp(">"),
		">":           tCmp(">"),
		"ge":          tCmp(">="),
		">=":          tCmp(">="),
		"in":          tIn,
		"sameas":      tSameAs,
		"lower":       func(v any, a *callArgs) (bool, error) { s, ok := v.(string); return ok && strings.ToLower(s) == s, nil },
		"upper":       func(v any, a *callArgs) (bool, error) { s, ok := v.(string); return ok && strings.ToUpper(s) == s, nil },
		"escaped":     func(v any, a *callArgs) (bool, error) { return false, nil },
	}
}

// ---- globals ----

func (t *Template) globals() map[string]any {
	return map[string]any{
		"range":           &builtin{name: "range", fn: gRange},
		"namespace":       &builtin{name: "namespace", fn: gNamespace},
		"dict":            &builtin{name: "dict", fn: gDict},
		"raise_exception": &builtin{name: "raise_exception", fn: gRaise},
		"strftime_now":    &builtin{name: "strftime_now", fn: gStrftimeNow},
	}
}

func gRange(e *evaluator, a *callArgs) (any, error) {
	var nums []int64
	for _, v := range a.pos {
		i, _, isF, ok := numeric(v)
		if !ok || isF {
			return nil, errorf("range() arguments must be integers, not '%s'", typeName(v))
		}
		nums = append(nums, i)
	}
	start, stop, step := int64(0), int64(0), int64(1)
	switch len(nums) {
	case 1:
		stop = nums[0]
	case 2:
		start, stop = nums[0], nums[1]
	case 3:
		start, stop, step = nums[0], nums[1], nums[2]
	default:
		return nil, errorf("range expected 1 to 3 arguments, got %d", len(nums))
	}
	if step == 0 {
		return nil, errorf("range() arg 3 must not be zero")
	}
	const maxRange = 100000 // Jinja's sandbox limit
	var n int64
	if fn := math.Ceil((float64(stop) - float64(start)) / float64(step)); fn > maxRange {
		return nil, errorf("range too big (limit %d items)", maxRange)
	}
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if err := e.charge(int(n) * 8); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

func gNamespace(e *evaluator, a *callArgs) (any, error) {
	m, err := gDict(e, a)
	if err != nil {
		return nil, err
	}
	return &namespace{m: m.(*Map)}, nil
}

func gDict(e *evaluator, a *callArgs) (any, error) {
	m := NewMap()
	for _, v := range a.pos {
		src, ok := v.(*Map)
		if !ok {
			return nil, errorf("dict()/namespace() positional argument must be a mapping, not '%s'", typeName(v))
		}
		for i, k := range src.keys {
			m.put(k, src.vals[i])
		}
	}
	for i, k := range a.kwNames {
		m.put(k, a.kwVals[i])
	}
	return m, nil
}

func gRaise(e *evaluator, a *callArgs) (any, error) {
	return nil, &raiseErr{msg: toStr(a.arg(0, "message", ""))}
}

func gStrftimeNow(e *evaluator, a *callArgs) (any, error) {
	f, ok := a.arg(0, "format", nil).(string)
	if !ok {
		return nil, errorf("strftime_now() expects a format string")
	}
	now := time.Now
	if e.t.Now != nil {
		now = e.t.Now
	}
	return strftime(now(), f), nil
}

var (
	monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayNames   = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// strftime implements the common directives of C/Python strftime.
func strftime(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 >= len(f) {
			b.WriteByte(c)
			continue
		}
		i++
		pad := true
		if f[i] == '-' && i+1 < len(f) {
			pad = false
			i++
		}
		num := func(v, w int) {
			if pad {
				fmt.Fprintf(&b, "%0*d", w, v)
			} else {
				b.WriteString(strconv.Itoa(v))
			}
		}
		switch f[i] {
		case 'd':
			num(t.Day(), 2)
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'm':
			num(int(t.Month()), 2)
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'y':
			num(t.Year()%100, 2)
		case 'H':
			num(t.Hour(), 2)
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			num(h, 2)
		case 'M':
			num(t.Minute(), 2)
		case 'S':
			num(t.Second(), 2)
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'B':
			b.WriteString(monthNames[t.Month()-1])
		case 'b', 'h':
			b.WriteString(monthNames[t.Month()-1][:3])
		case 'A':
			b.WriteString(dayNames[t.Weekday()])
		case 'a':
			b.WriteString(dayNames[t.Weekday()][:3])
		case 'j':
			num(t.YearDay(), 3)
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

// ---- filters ----

func strFilter(f func(string) string) filterFunc {
	return func(e *evaluator, v any, a *callArgs) (any, error) { return f(toStr(v)), nil }
}

func fAbs(e *evaluator, v any, a *callArgs) (any, error) {
	i, f, isF, ok := numeric(v)
	if !ok {
		return nil, errorf("bad operand type for abs(): '%s'", typeName(v))
	}
	if isF {
		return math.Abs(f), nil
	}
	if i < 0 {
		return -i, nil
	}
	return i, nil
}

func fAttr(e *evaluator, v any, a *callArgs) (any, error) {
	name := toStr(a.arg(0, "name", ""))
	switch x := v.(type) {
	case undefined:
		return nil, x.err()
	case *Map:
		if dictMethods[name] {
			return &method{recv: x, name: name}, nil
		}
		return undefAttr(v, name), nil
	}
	return getAttr(v, name)
}

func fBatch(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	n, err := intArg(a.arg(0, "linecount", nil))
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, errorf("batch size must be positive")
	}
	if n > int64(len(items)) {
		n = int64(max(len(items), 1))
	}
	out := []any{}
	for i := 0; i < len(items); i += int(n) {
		end := min(i+int(n), len(items))
		row := append([]any{}, items[i:end]...)
		if a.has(1, "fill_with") {
			for int64(len(row)) < n {
				row = append(row, a.arg(1, "fill_with", nil))
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func fDefault(e *evaluator, v any, a *callArgs) (any, error) {
	def := a.arg(0, "default_value", "")
	_, u := v.(undefined)
	if u || truthy(a.arg(1, "boolean", false)) && !truthy(v) {
		return def, nil
	}
	return v, nil
}

func fLength(e *evaluator, v any, a *callArgs) (any, error) {
	n, err := length(v)
	return int64(n), err
}

func fFirst(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefined{hint: "No first item, sequence was empty."}, nil
	}
	return items[0], nil
}

func fLast(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefined{hint: "No last item, sequence was empty."}, nil
	}
	return items[len(items)-1], nil
}

func fList(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return append([]any{}, items...), nil
}

func fItems(e *evaluator, v any, a *callArgs) (any, error) {
	switch x := v.(type) {
	case undefined:
		return []any{}, nil
	case *Map:
		return mapItems(x), nil
	}
	return nil, errorf("can only get item pairs from a mapping, not '%s'", typeName(v))
}

func mapItems(m *Map) []any {
	out := make([]any, m.Len())
	for i, k := range m.keys {
		out[i] = []any{k, m.vals[i]}
	}
	return out
}

func fJoin(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	sep := toStr(a.arg(0, "d", ""))
	attr := a.arg(1, "attribute", nil)
	parts := make([]string, len(items))
	n := 0
	for i, it := range items {
		if attr != nil {
			if it, err = attrGetter(it, attr); err != nil {
				return nil, err
			}
		}
		parts[i] = toStr(it)
		n += len(parts[i]) + len(sep)
	}
	if err := e.charge(n); err != nil {
		return nil, err
	}
	return strings.Join(parts, sep), nil
}

func fReplace(e *evaluator, v any, a *callArgs) (any, error) {
	s := toStr(v)
	old, ok1 := a.arg(0, "old", nil).(string)
	nw, ok2 := a.arg(1, "new", nil).(string)
	if !ok1 || !ok2 {
		return nil, errorf("replace() expects string arguments")
	}
	n := -1
	if c := a.arg(2, "count", nil); c != nil {
		i, err := intArg(c)
		if err != nil {
			return nil, err
		}
		n = int(i)
	}
	return pyReplace(e, s, old, nw, n)
}

func pyReplace(e *evaluator, s, old, nw string, n int) (any, error) {
	if cnt := strings.Count(s, old); len(nw) > len(old) && cnt > 0 {
		if err := e.charge(len(s) + cnt*(len(nw)-len(old))); err != nil {
			return nil, err
		}
	}
	return strings.Replace(s, old, nw, n), nil
}

func fReverse(e *evaluator, v any, a *callArgs) (any, error) {
	if s, ok := v.(string); ok {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	return out, nil
}

func fRound(e *evaluator, v any, a *callArgs) (any, error) {
	_, f, _, ok := numeric(v)
	if !ok {
		return nil, errorf("round() expects a number, not '%s'", typeName(v))
	}
	prec, err := intArg(a.arg(0, "precision", int64(0)))
	if err != nil {
		return nil, err
	}
	scale := math.Pow(10, float64(prec))
	switch toStr(a.arg(1, "method", "common")) {
	case "common":
		if i, _, isF, _ := numeric(v); !isF && prec >= 0 {
			return i, nil // Python's round() keeps ints
		}
		return math.RoundToEven(f*scale) / scale, nil
	case "ceil":
		return math.Ceil(f*scale) / scale, nil
	case "floor":
		return math.Floor(f*scale) / scale, nil
	}
	return nil, errorf("round() method must be 'common', 'ceil' or 'floor'")
}

func fTrim(e *evaluator, v any, a *callArgs) (any, error) {
	s := toStr(v)
	if c := a.arg(0, "chars", nil); c != nil {
		return strings.Trim(s, toStr(c)), nil
	}
	return strings.TrimFunc(s, isPySpace), nil
}

func fInt(e *evaluator, v any, a *callArgs) (any, error) {
	def := a.arg(0, "default", int64(0))
	switch x := v.(type) {
	case undefined:
		return nil, x.err()
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return def, nil
		}
		return int64(x), nil
	case string:
		base, err := intArg(a.arg(1, "base", int64(10)))
		if err != nil {
			return nil, err
		}
		s := strings.ReplaceAll(strings.TrimFunc(x, isPySpace), "_", "")
		if i, err := strconv.ParseInt(s, int(base), 64); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return int64(f), nil
		}
	}
	return def, nil
}

func fFloat(e *evaluator, v any, a *callArgs) (any, error) {
	def := a.arg(0, "default", 0.0)
	switch x := v.(type) {
	case undefined:
		return nil, x.err()
	case string:
		if f, err := strconv.ParseFloat(strings.TrimFunc(x, isPySpace), 64); err == nil {
			return f, nil
		}
		return def, nil
	}
	if _, f, _, ok := numeric(v); ok {
		return f, nil
	}
	return def, nil
}

func fIndent(e *evaluator, v any, a *callArgs) (any, error) {
	s, ok := v.(string)
	if !ok {
		if u, isU := v.(undefined); isU {
			return nil, u.err()
		}
		return nil, errorf("indent expects a string, not '%s'", typeName(v))
	}
	ind := "    "
	switch w := a.arg(0, "width", int64(4)).(type) {
	case string:
		ind = w
	default:
		n, err := intArg(w)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > 1000 {
			return nil, errorf("indent width out of range")
		}
		ind = strings.Repeat(" ", int(n))
	}
	first := truthy(a.arg(1, "first", false))
	blank := truthy(a.arg(2, "blank", false))
	lines := strings.Split(s, "\n")
	if strings.HasSuffix(s, "\n") {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		lines = []string{""}
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
			if blank || l != "" {
				b.WriteString(ind)
			}
		}
		b.WriteString(l)
	}
	rv := b.String()
	if first {
		rv = ind + rv
	}
	return rv, e.charge(len(rv))
}

func fDictsort(e *evaluator, v any, a *callArgs) (any, error) {
	m, ok := v.(*Map)
	if !ok {
		return nil, errorf("dictsort expects a mapping, not '%s'", typeName(v))
	}
	cs := truthy(a.arg(0, "case_sensitive", false))
	by := toStr(a.arg(1, "by", "key"))
	rev := truthy(a.arg(2, "reverse", false))
	pos := 0
	if by == "value" {
		pos = 1
	} else if by != "key" {
		return nil, errorf("you can only sort by either 'key' or 'value'")
	}
	items := mapItems(m)
	err := sortValues(items, rev, func(x any) (any, error) {
		k := x.([]any)[pos]
		if s, ok := k.(string); ok && !cs {
			return strings.ToLower(s), nil
		}
		return k, nil
	})
	return items, err
}

func sortValues(items []any, rev bool, key func(any) (any, error)) error {
	keys := make([]any, len(items))
	for i, it := range items {
		k, err := key(it)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var err error
	sort.SliceStable(idx, func(i, j int) bool {
		c, e := pyCompare(keys[idx[i]], keys[idx[j]])
		if e != nil && err == nil {
			err = e
		}
		if rev {
			return c > 0
		}
		return c < 0
	})
	if err != nil {
		return err
	}
	sorted := make([]any, len(items))
	for i, k := range idx {
		sorted[i] = items[k]
	}
	copy(items, sorted)
	return nil
}

func sortKey(cs bool, attr any) func(any) (any, error) {
	return func(x any) (any, error) {
		if attr != nil {
			var err error
			if x, err = attrGetter(x, attr); err != nil {
				return nil, err
			}
		}
		if s, ok := x.(string); ok && !cs {
			return strings.ToLower(s), nil
		}
		return x, nil
	}
}

func fSort(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	items = append([]any{}, items...)
	err = sortValues(items, truthy(a.arg(0, "reverse", false)),
		sortKey(truthy(a.arg(1, "case_sensitive", false)), a.arg(2, "attribute", nil)))
	return items, err
}

func fUnique(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	key := sortKey(truthy(a.arg(0, "case_sensitive", false)), a.arg(1, "attribute", nil))
	var out []any
	seen := map[any]bool{}
	for _, it := range items {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		h, ok := hashKey(k)
		if !ok {
			return nil, errorf("unhashable type: '%s'", typeName(k))
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, it)
		}
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func fMinMax(v any, a *callArgs, sign int) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefined{hint: "no min/max item, sequence was empty"}, nil
	}
	key := sortKey(truthy(a.arg(0, "case_sensitive", false)), a.arg(1, "attribute", nil))
	best := items[0]
	bk, err := key(best)
	if err != nil {
		return nil, err
	}
	for _, it := range items[1:] {
		k, err := key(it)
		if err != nil {
			return nil, err
		}
		c, err := pyCompare(k, bk)
		if err != nil {
			return nil, err
		}
		if c*sign > 0 {
			best, bk = it, k
		}
	}
	return best, nil
}

func fSum(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	attr := a.arg(0, "attribute", nil)
	total := a.arg(1, "start", int64(0))
	for _, it := range items {
		if attr != nil {
			if it, err = attrGetter(it, attr); err != nil {
				return nil, err
			}
		}
		if total, err = e.binOp("+", total, it); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func fWordcount(e *evaluator, v any, a *callArgs) (any, error) {
	n := 0
	in := false
	for _, r := range toStr(v) {
		w := r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
		if w && !in {
			n++
		}
		in = w
	}
	return int64(n), nil
}

// attrGetter implements Jinja's attribute="a.b.0" lookups.
func attrGetter(v, attr any) (any, error) {
	s, ok := attr.(string)
	if !ok {
		return getItem(v, attr)
	}
	for _, part := range strings.Split(s, ".") {
		var key any = part
		if i, err := strconv.ParseInt(part, 10, 64); err == nil {
			key = i
		}
		var err error
		if v, err = getItem(v, key); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func fMap(e *evaluator, v any, a *callArgs) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var fn func(any) (any, error)
	if attr := a.arg(-1, "attribute", nil); attr != nil {
		def := a.arg(-1, "default", nil)
		hasDef := a.has(-1, "default")
		fn = func(x any) (any, error) {
			r, err := attrGetter(x, attr)
			if _, u := r.(undefined); u && hasDef {
				return def, nil
			}
			return r, err
		}
	} else {
		if len(a.pos) == 0 {
			return nil, errorf("map requires a filter name or attribute=")
		}
		name := toStr(a.pos[0])
		f, ok := filters[name]
		if !ok {
			return nil, errorf("unsupported filter '%s' in map", name)
		}
		rest := &callArgs{pos: a.pos[1:], kwNames: a.kwNames, kwVals: a.kwVals}
		fn = func(x any) (any, error) { return f(e, x, rest) }
	}
	out := make([]any, len(items))
	for i, it := range items {
		if out[i], err = fn(it); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func fSelect(e *evaluator, v any, a *callArgs, want, byAttr bool) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	args := a.pos
	var attr any
	if byAttr {
		if len(args) == 0 {
			return nil, errorf("selectattr/rejectattr require an attribute name")
		}
		attr, args = args[0], args[1:]
	}
	test := func(x any) (bool, error) { return truthy(x), nil }
	if len(args) > 0 {
		name := toStr(args[0])
		t, ok := tests[name]
		if !ok {
			return nil, errorf("unsupported test '%s'", name)
		}
		rest := &callArgs{pos: args[1:], kwNames: a.kwNames, kwVals: a.kwVals}
		test = func(x any) (bool, error) { return t(x, rest) }
	}
	out := []any{}
	for _, it := range items {
		x := it
		if byAttr {
			if x, err = attrGetter(it, attr); err != nil {
				return nil, err
			}
		}
		ok, err := test(x)
		if err != nil {
			return nil, err
		}
		if ok == want {
			out = append(out, it)
		}
	}
	return out, nil
}

func fToJSON(e *evaluator, v any, a *callArgs) (any, error) {
	opts := jsonOpts{itemSep: ", ", keySep: ": ", limit: e.maxOut}
	opts.ensureASCII = truthy(a.arg(-1, "ensure_ascii", false))
	opts.sortKeys = truthy(a.arg(-1, "sort_keys", false))
	switch ind := a.arg(0, "indent", nil).(type) {
	case nil:
	case string:
		opts.indent, opts.hasIndent = ind, true
	default:
		n, err := intArg(ind)
		if err != nil {
			return nil, err
		}
		if n > 1000 {
			return nil, errorf("tojson indent too large")
		}
		opts.indent, opts.hasIndent = strings.Repeat(" ", max(int(n), 0)), true
		opts.itemSep = ","
	}
	if seps, ok := a.arg(-1, "separators", nil).([]any); ok && len(seps) == 2 {
		opts.itemSep, opts.keySep = toStr(seps[0]), toStr(seps[1])
	}
	var b strings.Builder
	if err := writeJSON(&b, v, &opts, 0); err != nil {
		return nil, err
	}
	return b.String(), e.charge(b.Len())
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// jinjaTitle is Jinja's title filter.
func jinjaTitle(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if r == '-' || r == '(' || r == '{' || r == '[' || r == '<' || isPySpace(r) {
			b.WriteRune(r)
			start = true
			continue
		}
		if start {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		start = false
	}
	return b.String()
}

func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if prevCased {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(unicode.ToUpper(r))
		}
		prevCased = unicode.IsLetter(r)
	}
	return b.String()
}

// ---- tests ----

func intArg(v any) (int64, error) {
	if u, ok := v.(undefined); ok {
		return 0, u.err()
	}
	i, _, isF, ok := numeric(v)
	if !ok || isF {
		return 0, errorf("expected an integer, got '%s'", typeName(v))
	}
	return i, nil
}

func tIterable(v any, a *callArgs) (bool, error) {
	switch v.(type) {
	case string, []any, *Map, undefined, *loopObj:
		return true, nil
	}
	return false, nil
}

func tSequence(v any, a *callArgs) (bool, error) {
	switch v.(type) {
	case string, []any, *Map, undefined:
		return true, nil
	}
	return false, nil
}

func tCallable(v any, a *callArgs) (bool, error) {
	switch v.(type) {
	case *macro, *builtin, *method, undefined:
		return true, nil
	}
	return false, nil
}

func tDivisibleBy(v any, a *callArgs) (bool, error) {
	return modTest(v, a.arg(0, "num", nil), 0)
}

// modTest reports whether v % n == want (Python semantics, ints or floats).
func modTest(v, n any, want int64) (bool, error) {
	var e evaluator
	r, err := e.binOp("%", v, n)
	if err != nil {
		return false, err
	}
	return pyEqual(r, want), nil
}

func tCmp(op string) testFunc {
	return func(v any, a *callArgs) (bool, error) {
		if !a.has(0, "other") {
			return false, errorf("test '%s' requires an argument", op)
		}
		return compareOp(op, v, a.arg(0, "other", nil))
	}
}

func tIn(v any, a *callArgs) (bool, error) {
	if !a.has(0, "seq") {
		return false, errorf("test 'in' requires an argument")
	}
	return contains(a.arg(0, "seq", nil), v)
}

func tSameAs(v any, a *callArgs) (bool, error) {
	o := a.arg(0, "other", nil)
	switch x := v.(type) {
	case nil:
		return o == nil, nil
	case bool, int64, float64, string:
		return v == o, nil
	case []any:
		y, ok := o.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0]), nil
	}
	return v == o, nil
}
