package chat

import (
	"errors"
	"math"
	"strings"
	"unicode/utf8"
)

type scope struct {
	vars   map[string]any
	parent *scope
}

func newScope(parent *scope) *scope { return &scope{vars: map[string]any{}, parent: parent} }

// frameScope opens a new Jinja frame: the names in undef start undefined.
func frameScope(parent *scope, undef []string) *scope {
	s := newScope(parent)
	for _, n := range undef {
		s.vars[n] = undefName(n)
	}
	return s
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

type evaluator struct {
	t        *Template
	steps    int64
	maxSteps int64
	written  int
	maxOut   int
	depth    int
}

var (
	errBreak    = errors.New("break")
	errContinue = errors.New("continue")
)

// maxValueLen bounds values whose size is not tied to a render's limits.
const maxValueLen = 64 << 20

// maxCallDepth bounds macro recursion.
const maxCallDepth = 200

func (e *evaluator) step(n int64) error {
	e.steps += n
	if e.steps > e.maxSteps {
		return errorf("template exceeded its step limit (%d)", e.maxSteps)
	}
	return nil
}

func (e *evaluator) write(w *strings.Builder, s string) error {
	e.written += len(s)
	if e.written > e.maxOut {
		return errorf("template output exceeded %d bytes", e.maxOut)
	}
	if err := e.step(int64(len(s) >> 8)); err != nil {
		return err
	}
	w.WriteString(s)
	return nil
}

func (e *evaluator) fail(pos int, err error) error { return locate(e.t.src, pos, err) }

func (e *evaluator) render(nodes []node, sc *scope, w *strings.Builder) error {
	for _, n := range nodes {
		if err := e.renderNode(n, sc, w); err != nil {
			return err
		}
	}
	return nil
}

func (e *evaluator) renderNode(n node, sc *scope, w *strings.Builder) error {
	if err := e.step(1); err != nil {
		return err
	}
	switch n := n.(type) {
	case *textNode:
		return e.write(w, n.s)
	case *scopeNode:
		return e.render(n.body, frameScope(sc, n.undef), w)
	case *outputNode:
		v, err := e.eval(n.x, sc)
		if err != nil {
			return e.fail(n.pos, err)
		}
		return e.fail(n.pos, e.write(w, toStr(v)))
	case *ifNode:
		for i, c := range n.conds {
			v, err := e.eval(c, sc)
			if err != nil {
				return err
			}
			if truthy(v) {
				return e.render(n.bodies[i], sc, w)
			}
		}
		return e.render(n.els, sc, w)
	case *forNode:
		return e.renderFor(n, sc, w)
	case *setNode:
		var v any
		if n.value != nil {
			var err error
			if v, err = e.eval(n.value, sc); err != nil {
				return err
			}
		} else {
			var b strings.Builder
			if err := e.render(n.body, frameScope(sc, n.undef), &b); err != nil {
				return err
			}
			v = b.String()
		}
		if n.attr != "" {
			obj, _ := sc.lookup(n.names[0])
			ns, ok := obj.(*namespace)
			if !ok {
				return newError(e.t.src, n.pos, "cannot assign attribute on non-namespace object")
			}
			ns.m.put(n.attr, v)
			return nil
		}
		return e.fail(n.pos, assign(sc, n.names, n.tuple, v))
	case *macroNode:
		sc.vars[n.m.name] = &macro{def: n.m, sc: sc}
		return nil
	case *callBlockNode:
		caller := &macro{def: n.caller, sc: sc}
		v, err := e.evalCall(n.call, sc, caller)
		if err != nil {
			return err
		}
		return e.fail(n.pos, e.write(w, toStr(v)))
	case *filterBlockNode:
		var b strings.Builder
		if err := e.render(n.body, frameScope(sc, n.undef), &b); err != nil {
			return err
		}
		var v any = b.String()
		for _, f := range n.filters {
			var err error
			if v, err = e.applyFilter(f, v, sc); err != nil {
				return err
			}
		}
		return e.fail(n.pos, e.write(w, toStr(v)))
	case *withNode:
		inner := frameScope(sc, n.undef)
		for i, name := range n.names {
			v, err := e.eval(n.values[i], sc)
			if err != nil {
				return err
			}
			inner.vars[name] = v
		}
		return e.render(n.body, inner, w)
	case *loopCtlNode:
		if n.brk {
			return errBreak
		}
		return errContinue
	}
	return errorf("internal error: unknown node %T", n)
}

func assign(sc *scope, names []string, tuple bool, v any) error {
	if !tuple {
		sc.vars[names[0]] = v
		return nil
	}
	items, err := iterate(v)
	if err != nil {
		return errorf("cannot unpack non-iterable %s object", typeName(v))
	}
	if len(items) != len(names) {
		if len(items) > len(names) {
			return errorf("too many values to unpack (expected %d)", len(names))
		}
		return errorf("not enough values to unpack (expected %d, got %d)", len(names), len(items))
	}
	for i, name := range names {
		sc.vars[name] = items[i]
	}
	return nil
}

func (e *evaluator) renderFor(n *forNode, sc *scope, w *strings.Builder) error {
	it, err := e.eval(n.iter, sc)
	if err != nil {
		return err
	}
	items, err := iterate(it)
	if err != nil {
		return e.fail(n.pos, err)
	}
	if n.cond != nil {
		var kept []any
		for _, item := range items {
			isc := newScope(sc)
			if err := assign(isc, n.target, n.tuple, item); err != nil {
				return e.fail(n.pos, err)
			}
			c, err := e.eval(n.cond, isc)
			if err != nil {
				return err
			}
			if truthy(c) {
				kept = append(kept, item)
			}
		}
		items = kept
	}
	// Like Jinja, the else block runs unless some iteration ran to the end
	// of the body (so also after a break or a continue in the last one).
	completed := false
	loop := &loopObj{items: items}
	for i, item := range items {
		isc := frameScope(sc, n.undefBody)
		if err := assign(isc, n.target, n.tuple, item); err != nil {
			return e.fail(n.pos, err)
		}
		loop.index0 = i
		isc.vars["loop"] = loop
		err := e.render(n.body, isc, w)
		if err == errBreak {
			break
		}
		if err == nil {
			completed = true
		} else if err != errContinue {
			return err
		}
	}
	if !completed && n.els != nil {
		return e.render(n.els, frameScope(sc, n.undefElse), w)
	}
	return nil
}

// ---- expressions ----

func (e *evaluator) eval(x expr, sc *scope) (any, error) {
	if err := e.step(1); err != nil {
		return nil, err
	}
	switch x := x.(type) {
	case *constExpr:
		return x.v, nil
	case *nameExpr:
		if v, ok := sc.lookup(x.name); ok {
			return v, nil
		}
		return undefName(x.name), nil
	case *listExpr:
		out := make([]any, len(x.items))
		for i, it := range x.items {
			v, err := e.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *dictExpr:
		m := NewMap()
		for i, k := range x.keys {
			kv, err := e.eval(k, sc)
			if err != nil {
				return nil, err
			}
			if _, ok := hashKey(kv); !ok {
				if u, ok := kv.(undefined); ok {
					return nil, e.fail(x.pos, u.err())
				}
				return nil, newError(e.t.src, x.pos, "unhashable type: '%s'", typeName(kv))
			}
			v, err := e.eval(x.vals[i], sc)
			if err != nil {
				return nil, err
			}
			m.put(kv, v)
		}
		return m, nil
	case *attrExpr:
		obj, err := e.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		v, err := getAttr(obj, x.name)
		return v, e.fail(x.pos, err)
	case *itemExpr:
		obj, err := e.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		k, err := e.eval(x.key, sc)
		if err != nil {
			return nil, err
		}
		v, err := getItem(obj, k)
		return v, e.fail(x.pos, err)
	case *sliceExpr:
		return e.evalSlice(x, sc)
	case *callExpr:
		return e.evalCall(x, sc, nil)
	case *filterExpr:
		v, err := e.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		return e.applyFilter(x, v, sc)
	case *testExpr:
		v, err := e.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		a, err := e.evalArgs(x.args, x.kwNames, x.kwVals, sc)
		if err != nil {
			return nil, err
		}
		test, ok := tests[x.name]
		if !ok {
			return nil, newError(e.t.src, x.pos, "unsupported test '%s'", x.name)
		}
		r, err := test(v, a)
		if err != nil {
			return nil, e.fail(x.pos, err)
		}
		return r != x.neg, nil
	case *unaryExpr:
		v, err := e.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		if x.op == "not" {
			return !truthy(v), nil
		}
		r, err := unaryOp(x.op, v)
		return r, e.fail(x.pos, err)
	case *binExpr:
		l, err := e.eval(x.l, sc)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "and":
			if !truthy(l) {
				return l, nil
			}
			return e.eval(x.r, sc)
		case "or":
			if truthy(l) {
				return l, nil
			}
			return e.eval(x.r, sc)
		}
		r, err := e.eval(x.r, sc)
		if err != nil {
			return nil, err
		}
		v, err := e.binOp(x.op, l, r)
		return v, e.fail(x.pos, err)
	case *compareExpr:
		l, err := e.eval(x.first, sc)
		if err != nil {
			return nil, err
		}
		for i, op := range x.ops {
			r, err := e.eval(x.rest[i], sc)
			if err != nil {
				return nil, err
			}
			if err := e.chargeLen(r); err != nil {
				return nil, err
			}
			ok, err := compareOp(op, l, r)
			if err != nil {
				return nil, e.fail(x.pos, err)
			}
			if !ok {
				return false, nil
			}
			l = r
		}
		return true, nil
	case *condExpr:
		c, err := e.eval(x.cond, sc)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return e.eval(x.yes, sc)
		}
		if x.no == nil {
			return undefined{hint: "the inline if-expression evaluated to false and no else section was defined"}, nil
		}
		return e.eval(x.no, sc)
	}
	return nil, errorf("internal error: unknown expression %T", x)
}

func compareOp(op string, l, r any) (bool, error) {
	switch op {
	case "==":
		return pyEqual(l, r), nil
	case "!=":
		return !pyEqual(l, r), nil
	case "in", "notin":
		ok, err := contains(r, l)
		return ok == (op == "in"), err
	}
	c, err := pyCompare(l, r)
	if err != nil {
		if op != "<" {
			err = errorf("%s", strings.Replace(err.Error(), "'<'", "'"+op+"'", 1))
		}
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	}
	return c >= 0, nil
}

func unaryOp(op string, v any) (any, error) {
	if u, ok := v.(undefined); ok {
		return nil, u.err()
	}
	i, f, isF, ok := numeric(v)
	if !ok {
		return nil, errorf("bad operand type for unary %s: '%s'", op, typeName(v))
	}
	if op == "+" {
		if isF {
			return f, nil
		}
		return i, nil
	}
	if isF {
		return -f, nil
	}
	return -i, nil
}

func (e *evaluator) binOp(op string, l, r any) (any, error) {
	if op == "~" {
		s := toStr(l) + toStr(r)
		return s, e.charge(len(s))
	}
	if u, ok := l.(undefined); ok {
		return nil, u.err()
	}
	if u, ok := r.(undefined); ok {
		return nil, u.err()
	}
	li, lf, lfl, lok := numeric(l)
	ri, rf, rfl, rok := numeric(r)
	if lok && rok {
		isF := lfl || rfl
		switch op {
		case "+":
			if isF {
				return lf + rf, nil
			}
			return li + ri, nil
		case "-":
			if isF {
				return lf - rf, nil
			}
			return li - ri, nil
		case "*":
			if isF {
				return lf * rf, nil
			}
			return li * ri, nil
		case "/":
			if rf == 0 {
				return nil, errorf("division by zero")
			}
			return lf / rf, nil
		case "//":
			if rf == 0 {
				return nil, errorf("integer division or modulo by zero")
			}
			if isF {
				return pyFloorDiv(lf, rf), nil
			}
			q := li / ri
			if (li%ri != 0) && ((li < 0) != (ri < 0)) {
				q--
			}
			return q, nil
		case "%":
			if rf == 0 {
				return nil, errorf("integer division or modulo by zero")
			}
			if isF {
				m := math.Mod(lf, rf)
				if m != 0 && (m < 0) != (rf < 0) {
					m += rf
				} else if m == 0 {
					m = math.Copysign(0, rf)
				}
				return m, nil
			}
			m := li % ri
			if m != 0 && (m < 0) != (ri < 0) {
				m += ri
			}
			return m, nil
		case "**":
			if !isF && ri >= 0 {
				switch {
				case li == 0 || li == 1:
					if ri == 0 {
						return int64(1), nil
					}
					return li, nil
				case li == -1:
					if ri%2 == 0 {
						return int64(1), nil
					}
					return int64(-1), nil
				case ri > 64:
					return nil, errorf("integer power too large")
				}
				res := int64(1)
				for k := int64(0); k < ri; k++ {
					res *= li
				}
				return res, nil
			}
			return math.Pow(lf, rf), nil
		}
	}
	switch op {
	case "+":
		switch x := l.(type) {
		case string:
			if y, ok := r.(string); ok {
				if err := e.charge(len(x) + len(y)); err != nil {
					return nil, err
				}
				return x + y, nil
			}
		case []any:
			if y, ok := r.([]any); ok {
				if err := e.charge(16 * (len(x) + len(y))); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
		}
	case "*":
		seq, n := l, r
		if _, _, _, ok := numeric(seq); ok {
			seq, n = r, l
		}
		cnt, _, isF, ok := numeric(n)
		if ok && !isF {
			if cnt < 0 {
				cnt = 0
			}
			switch x := seq.(type) {
			case string:
				if len(x) > 0 && cnt > int64(e.maxOut/len(x)) {
					return nil, errorf("string repetition result too large")
				}
				if err := e.charge(len(x) * int(cnt)); err != nil {
					return nil, err
				}
				return strings.Repeat(x, int(cnt)), nil
			case []any:
				if len(x) > 0 && cnt > int64(e.maxOut/16/len(x)) {
					return nil, errorf("list repetition result too large")
				}
				if err := e.charge(16 * len(x) * int(cnt)); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(x)*int(cnt))
				for k := int64(0); k < cnt; k++ {
					out = append(out, x...)
				}
				return out, nil
			}
		}
	case "%":
		if _, ok := l.(string); ok {
			return nil, errorf("unsupported: printf-style string formatting with '%%'")
		}
	}
	return nil, errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(l), typeName(r))
}

// pyFloorDiv is Python's float floor division.
func pyFloorDiv(a, b float64) float64 {
	mod := math.Mod(a, b)
	div := (a - mod) / b
	if mod != 0 && (b < 0) != (mod < 0) {
		div--
	}
	if div == 0 {
		return math.Copysign(0, a/b)
	}
	fl := math.Floor(div)
	if div-fl > 0.5 {
		fl++
	}
	return fl
}

// charge accounts for building a value of n bytes; no single value may
// be larger than the output limit.
func (e *evaluator) charge(n int) error {
	if n > e.maxOut || n < 0 {
		return errorf("value too large (%d bytes, limit %d)", n, e.maxOut)
	}
	return e.step(int64(n >> 6))
}

// chargeLen accounts for an operation that walks over v.
func (e *evaluator) chargeLen(v any) error {
	switch x := v.(type) {
	case string:
		return e.step(int64(len(x) >> 6))
	case []any:
		return e.step(int64(len(x)))
	case *Map:
		return e.step(int64(x.Len()))
	}
	return nil
}

func (e *evaluator) evalSlice(x *sliceExpr, sc *scope) (any, error) {
	obj, err := e.eval(x.x, sc)
	if err != nil {
		return nil, err
	}
	var bounds [3]*int64
	for i, b := range []expr{x.lo, x.hi, x.stride} {
		if b == nil {
			continue
		}
		v, err := e.eval(b, sc)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		n, _, isF, ok := numeric(v)
		if !ok || isF {
			return nil, newError(e.t.src, x.pos, "slice indices must be integers or None")
		}
		bounds[i] = &n
	}
	v, err := slice(obj, bounds[0], bounds[1], bounds[2])
	return v, e.fail(x.pos, err)
}

func slice(obj any, lo, hi, stride *int64) (any, error) {
	var n int
	var runes []rune
	switch x := obj.(type) {
	case string:
		runes = []rune(x)
		n = len(runes)
	case []any:
		n = len(x)
	case undefined:
		return nil, x.err()
	case *Map:
		return nil, errorf("unhashable type: 'slice'")
	default:
		return nil, errorf("'%s' object is not subscriptable", typeName(obj))
	}
	idx, err := sliceIndices(n, lo, hi, stride)
	if err != nil {
		return nil, err
	}
	if _, ok := obj.(string); ok {
		out := make([]rune, len(idx))
		for i, k := range idx {
			out[i] = runes[k]
		}
		return string(out), nil
	}
	l := obj.([]any)
	out := make([]any, len(idx))
	for i, k := range idx {
		out[i] = l[k]
	}
	return out, nil
}

func sliceIndices(n int, lo, hi, stride *int64) ([]int, error) {
	step := int64(1)
	if stride != nil {
		step = *stride
	}
	if step == 0 {
		return nil, errorf("slice step cannot be zero")
	}
	ln := int64(n)
	clamp := func(p *int64, def, min, max int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += ln
			if v < min {
				v = min
			}
		} else if v > max {
			v = max
		}
		return v
	}
	var out []int
	if step > 0 {
		start, stop := clamp(lo, 0, 0, ln), clamp(hi, ln, 0, ln)
		for i := start; i < stop; i += step {
			out = append(out, int(i))
			if step > stop-i {
				break
			}
		}
	} else {
		start, stop := clamp(lo, ln-1, -1, ln-1), clamp(hi, -1, -1, ln-1)
		for i := start; i > stop; i += step {
			out = append(out, int(i))
			if -step > i-stop {
				break
			}
		}
	}
	return out, nil
}

func getAttr(obj any, name string) (any, error) {
	switch x := obj.(type) {
	case undefined:
		return nil, x.err()
	case *Map:
		if dictMethods[name] {
			return &method{recv: x, name: name}, nil
		}
		if v, ok := x.lookup(name); ok {
			return v, nil
		}
	case *namespace:
		if v, ok := x.m.lookup(name); ok {
			return v, nil
		}
	case string:
		if strMethods[name] {
			return &method{recv: x, name: name}, nil
		}
	case []any:
		if listMethods[name] {
			return &method{recv: x, name: name}, nil
		}
	case *loopObj:
		return x.attr(name), nil
	}
	return undefAttr(obj, name), nil
}

func getItem(obj, key any) (any, error) {
	switch x := obj.(type) {
	case undefined:
		return nil, x.err()
	case *Map:
		if v, ok := x.lookup(key); ok {
			return v, nil
		}
		if s, ok := key.(string); ok {
			return getAttr(obj, s)
		}
		return undefined{hint: "'dict object' has no attribute " + repr(key)}, nil
	case []any, string:
		i, _, isF, ok := numeric(key)
		if !ok || isF {
			if s, ok := key.(string); ok {
				return getAttr(obj, s)
			}
			return undefined{hint: "'" + typeName(obj) + " object' has no element " + repr(key)}, nil
		}
		if l, ok := x.([]any); ok {
			if i < 0 {
				i += int64(len(l))
			}
			if i < 0 || i >= int64(len(l)) {
				return undefined{hint: "list object has no element " + repr(key)}, nil
			}
			return l[i], nil
		}
		s := x.(string)
		n := int64(utf8.RuneCountInString(s))
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return undefined{hint: "str object has no element " + repr(key)}, nil
		}
		for _, r := range s {
			if i == 0 {
				return string(r), nil
			}
			i--
		}
	case *namespace, *loopObj:
		if s, ok := key.(string); ok {
			return getAttr(obj, s)
		}
	}
	return undefined{hint: "'" + typeName(obj) + " object' has no element " + repr(key)}, nil
}

func (l *loopObj) attr(name string) any {
	n := len(l.items)
	switch name {
	case "index":
		return int64(l.index0 + 1)
	case "index0":
		return int64(l.index0)
	case "revindex":
		return int64(n - l.index0)
	case "revindex0":
		return int64(n - l.index0 - 1)
	case "first":
		return l.index0 == 0
	case "last":
		return l.index0 == n-1
	case "length":
		return int64(n)
	case "depth":
		return int64(1)
	case "depth0":
		return int64(0)
	case "previtem":
		if l.index0 > 0 {
			return l.items[l.index0-1]
		}
		return undefined{hint: "there is no previous item"}
	case "nextitem":
		if l.index0 < n-1 {
			return l.items[l.index0+1]
		}
		return undefined{hint: "there is no next item"}
	case "cycle":
		return &method{recv: l, name: "cycle"}
	}
	return undefAttr(l, name)
}

// ---- calls ----

type callArgs struct {
	pos     []any
	kwNames []string
	kwVals  []any
}

// arg returns the positional argument i, or the keyword argument name, or def.
func (a *callArgs) arg(i int, name string, def any) any {
	if i >= 0 && i < len(a.pos) {
		return a.pos[i]
	}
	for k, n := range a.kwNames {
		if n == name {
			return a.kwVals[k]
		}
	}
	return def
}

func (a *callArgs) has(i int, name string) bool {
	if i >= 0 && i < len(a.pos) {
		return true
	}
	for _, n := range a.kwNames {
		if n == name {
			return true
		}
	}
	return false
}

func (e *evaluator) evalArgs(args []expr, kwNames []string, kwVals []expr, sc *scope) (*callArgs, error) {
	a := &callArgs{kwNames: kwNames}
	for _, x := range args {
		v, err := e.eval(x, sc)
		if err != nil {
			return nil, err
		}
		a.pos = append(a.pos, v)
	}
	for _, x := range kwVals {
		v, err := e.eval(x, sc)
		if err != nil {
			return nil, err
		}
		a.kwVals = append(a.kwVals, v)
	}
	return a, nil
}

func (e *evaluator) evalCall(x *callExpr, sc *scope, caller *macro) (any, error) {
	fn, err := e.eval(x.fn, sc)
	if err != nil {
		return nil, err
	}
	a, err := e.evalArgs(x.args, x.kwNames, x.kwVals, sc)
	if err != nil {
		return nil, err
	}
	v, err := e.call(fn, a, caller)
	return v, e.fail(x.pos, err)
}

func (e *evaluator) call(fn any, a *callArgs, caller *macro) (any, error) {
	switch f := fn.(type) {
	case *macro:
		return e.callMacro(f, a, caller)
	case *builtin:
		return f.fn(e, a)
	case *method:
		if err := e.chargeLen(f.recv); err != nil {
			return nil, err
		}
		return callMethod(e, f, a)
	case undefined:
		return nil, f.err()
	}
	return nil, errorf("'%s' object is not callable", typeName(fn))
}

func (e *evaluator) callMacro(m *macro, a *callArgs, caller *macro) (any, error) {
	if e.depth >= maxCallDepth {
		return nil, errorf("maximum macro recursion depth (%d) exceeded", maxCallDepth)
	}
	e.depth++
	defer func() { e.depth-- }()
	d := m.def
	sc := frameScope(m.sc, d.undef)
	var varargs []any
	for i, v := range a.pos {
		if i < len(d.params) {
			sc.vars[d.params[i]] = v
		} else {
			varargs = append(varargs, v)
		}
	}
	kw := NewMap()
	for i, name := range a.kwNames {
		found := false
		for k, p := range d.params {
			if p == name {
				if k < len(a.pos) {
					return nil, errorf("macro '%s' got multiple values for argument '%s'", d.name, name)
				}
				sc.vars[name] = a.kwVals[i]
				found = true
			}
		}
		if !found {
			kw.put(name, a.kwVals[i])
		}
	}
	for i, p := range d.params {
		if _, ok := sc.vars[p]; ok {
			continue
		}
		if d.defaults[i] != nil {
			v, err := e.eval(d.defaults[i], sc)
			if err != nil {
				return nil, err
			}
			sc.vars[p] = v
		} else {
			sc.vars[p] = undefined{hint: "parameter '" + p + "' was not provided"}
		}
	}
	if varargs == nil {
		varargs = []any{}
	}
	sc.vars["varargs"] = varargs
	sc.vars["kwargs"] = kw
	if caller != nil {
		sc.vars["caller"] = caller
	} else if m.caller != nil {
		sc.vars["caller"] = m.caller
	}
	var b strings.Builder
	if err := e.render(d.body, sc, &b); err != nil {
		return nil, err
	}
	return b.String(), nil
}

func (e *evaluator) applyFilter(f *filterExpr, v any, sc *scope) (any, error) {
	a, err := e.evalArgs(f.args, f.kwNames, f.kwVals, sc)
	if err != nil {
		return nil, err
	}
	if err := e.chargeLen(v); err != nil {
		return nil, err
	}
	filter, ok := filters[f.name]
	if !ok {
		return nil, newError(e.t.src, f.pos, "unsupported filter '%s'", f.name)
	}
	r, err := filter(e, v, a)
	return r, e.fail(f.pos, err)
}
