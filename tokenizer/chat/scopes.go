package chat

// Jinja2 resolves variables at compile time, frame by frame (the template,
// each for-loop body and else branch, macro and call bodies, with, filter
// and block-set bodies). A name that a frame assigns unconditionally before
// (in source order) anything in that frame reads it, and that no enclosing
// frame mentions, starts out undefined in that frame: it does not see a
// value of the same name from the render context. The rendering here uses
// dynamic scopes, so this pass computes those names per frame and the
// renderer binds them to undefined when it enters the frame.

type refKind uint8

const (
	refResolve refKind = iota
	refAlias
	refUndef
	refParam
)

type symtab struct {
	parent *symtab
	refs   map[string]refKind
	stores map[string]bool
}

func newSymtab(parent *symtab) *symtab {
	return &symtab{parent: parent, refs: map[string]refKind{}, stores: map[string]bool{}}
}

func (s *symtab) findRef(name string) bool {
	for t := s; t != nil; t = t.parent {
		if _, ok := t.refs[name]; ok {
			return true
		}
	}
	return false
}

func (s *symtab) load(name string) {
	if !s.findRef(name) {
		s.refs[name] = refResolve
	}
}

func (s *symtab) store(name string) {
	s.stores[name] = true
	if _, ok := s.refs[name]; ok {
		return
	}
	if s.parent != nil && s.parent.findRef(name) {
		s.refs[name] = refAlias
	} else {
		s.refs[name] = refUndef
	}
}

func (s *symtab) param(name string) {
	s.stores[name] = true
	s.refs[name] = refParam
}

func (s *symtab) copy() *symtab {
	c := newSymtab(s.parent)
	for k, v := range s.refs {
		c.refs[k] = v
	}
	for k := range s.stores {
		c.stores[k] = true
	}
	return c
}

func (s *symtab) branchUpdate(branches []*symtab) {
	stores := map[string]bool{}
	for _, b := range branches {
		for k := range b.stores {
			if !s.stores[k] {
				stores[k] = true
			}
		}
	}
	for _, b := range branches {
		for k, v := range b.refs {
			s.refs[k] = v
		}
		for k := range b.stores {
			s.stores[k] = true
		}
	}
	for name := range stores {
		if s.parent != nil && s.parent.findRef(name) {
			s.refs[name] = refAlias
		} else {
			s.refs[name] = refResolve
		}
	}
}

func (s *symtab) undefNames() []string {
	var out []string
	for k, v := range s.refs {
		if v == refUndef {
			out = append(out, k)
		}
	}
	return out
}

// analyzeFrame analyzes one frame and, recursively, the frames inside it.
func analyzeFrame(nodes []node, params []string, parent *symtab) (*symtab, []string) {
	s := newSymtab(parent)
	for _, p := range params {
		s.param(p)
	}
	var children []func(*symtab)
	for _, n := range nodes {
		visitStmt(s, n, &children)
	}
	for _, c := range children {
		c(s)
	}
	return s, s.undefNames()
}

func visitStmt(s *symtab, n node, children *[]func(*symtab)) {
	switch n := n.(type) {
	case *outputNode:
		loadExpr(s, n.x)
	case *ifNode:
		loadExpr(s, n.conds[0])
		orig := s
		var branches []*symtab
		b := orig.copy()
		for _, c := range n.bodies[0] {
			visitStmt(b, c, children)
		}
		branches = append(branches, b)
		b = orig.copy()
		for i := 1; i < len(n.conds); i++ {
			loadExpr(b, n.conds[i])
			inner := b.copy()
			for _, c := range n.bodies[i] {
				visitStmt(inner, c, children)
			}
			b.branchUpdate([]*symtab{inner})
		}
		branches = append(branches, b)
		b = orig.copy()
		for _, c := range n.els {
			visitStmt(b, c, children)
		}
		branches = append(branches, b)
		orig.branchUpdate(branches)
	case *forNode:
		loadExpr(s, n.iter)
		*children = append(*children, func(p *symtab) {
			_, n.undefBody = analyzeFrame(n.body, append([]string{"loop"}, n.target...), p)
			if n.els != nil {
				_, n.undefElse = analyzeFrame(n.els, nil, p)
			}
		})
	case *setNode:
		if n.value != nil {
			loadExpr(s, n.value)
		} else {
			*children = append(*children, func(p *symtab) { _, n.undef = analyzeFrame(n.body, nil, p) })
		}
		if n.attr != "" {
			s.load(n.names[0])
			return
		}
		for _, name := range n.names {
			s.store(name)
		}
	case *macroNode:
		s.store(n.m.name)
		*children = append(*children, func(p *symtab) { analyzeMacro(n.m, p) })
	case *callBlockNode:
		loadExpr(s, n.call)
		*children = append(*children, func(p *symtab) { analyzeMacro(n.caller, p) })
	case *filterBlockNode:
		*children = append(*children, func(p *symtab) {
			st := newSymtab(p)
			for _, f := range n.filters {
				loadExpr(st, f)
			}
			var sub []func(*symtab)
			for _, c := range n.body {
				visitStmt(st, c, &sub)
			}
			for _, c := range sub {
				c(st)
			}
			n.undef = st.undefNames()
		})
	case *withNode:
		for _, v := range n.values {
			loadExpr(s, v)
		}
		*children = append(*children, func(p *symtab) {
			st := newSymtab(p)
			for _, name := range n.names {
				st.store(name)
			}
			var sub []func(*symtab)
			for _, c := range n.body {
				visitStmt(st, c, &sub)
			}
			for _, c := range sub {
				c(st)
			}
			// with targets are assigned on entry, never undefined
			for _, name := range n.names {
				delete(st.refs, name)
			}
			n.undef = st.undefNames()
		})
	case *scopeNode:
		*children = append(*children, func(p *symtab) { _, n.undef = analyzeFrame(n.body, nil, p) })
	}
}

func analyzeMacro(m *macroDef, parent *symtab) {
	params := append([]string{"varargs", "kwargs", "caller"}, m.params...)
	_, m.undef = analyzeFrame(m.body, params, parent)
}

// loadExpr records every name an expression reads.
func loadExpr(s *symtab, x expr) {
	switch x := x.(type) {
	case *nameExpr:
		s.load(x.name)
	case *listExpr:
		for _, it := range x.items {
			loadExpr(s, it)
		}
	case *dictExpr:
		for i := range x.keys {
			loadExpr(s, x.keys[i])
			loadExpr(s, x.vals[i])
		}
	case *attrExpr:
		loadExpr(s, x.x)
	case *itemExpr:
		loadExpr(s, x.x)
		loadExpr(s, x.key)
	case *sliceExpr:
		for _, e := range []expr{x.x, x.lo, x.hi, x.stride} {
			if e != nil {
				loadExpr(s, e)
			}
		}
	case *callExpr:
		loadExpr(s, x.fn)
		loadAll(s, x.args, x.kwVals)
	case *filterExpr:
		if x.x != nil {
			loadExpr(s, x.x)
		}
		loadAll(s, x.args, x.kwVals)
	case *testExpr:
		loadExpr(s, x.x)
		loadAll(s, x.args, x.kwVals)
	case *unaryExpr:
		loadExpr(s, x.x)
	case *binExpr:
		loadExpr(s, x.l)
		loadExpr(s, x.r)
	case *compareExpr:
		loadExpr(s, x.first)
		for _, r := range x.rest {
			loadExpr(s, r)
		}
	case *condExpr:
		loadExpr(s, x.cond)
		loadExpr(s, x.yes)
		if x.no != nil {
			loadExpr(s, x.no)
		}
	}
}

func loadAll(s *symtab, a, b []expr) {
	for _, e := range a {
		loadExpr(s, e)
	}
	for _, e := range b {
		loadExpr(s, e)
	}
}

// checkNames reports filters and tests that are not implemented, like
// Jinja's compiler: inside an if statement (its conditions and direct
// bodies) or a conditional expression the check is left to render time,
// so a template that only uses them in branches it never takes still works.
func checkNames(src string, nodes []node) error {
	c := &nameChecker{src: src}
	c.stmts(nodes, false)
	return c.err
}

type nameChecker struct {
	src string
	err error
}

func (c *nameChecker) stmts(nodes []node, soft bool) {
	for _, n := range nodes {
		if c.err != nil {
			return
		}
		c.stmt(n, soft)
	}
}

func (c *nameChecker) stmt(n node, soft bool) {
	switch n := n.(type) {
	case *outputNode:
		c.expr(n.x, soft)
	case *ifNode:
		for i := range n.conds {
			c.expr(n.conds[i], true)
			c.stmts(n.bodies[i], true)
		}
		c.stmts(n.els, true)
	case *forNode:
		c.expr(n.iter, soft)
		if n.cond != nil {
			c.expr(n.cond, false)
		}
		c.stmts(n.body, false)
		c.stmts(n.els, false)
	case *setNode:
		if n.value != nil {
			c.expr(n.value, soft)
		}
		c.stmts(n.body, false)
	case *macroNode:
		c.macro(n.m)
	case *callBlockNode:
		c.expr(n.call, soft)
		c.macro(n.caller)
	case *filterBlockNode:
		for _, f := range n.filters {
			c.expr(f, false)
		}
		c.stmts(n.body, false)
	case *withNode:
		for _, v := range n.values {
			c.expr(v, soft)
		}
		c.stmts(n.body, false)
	case *scopeNode:
		c.stmts(n.body, false)
	}
}

func (c *nameChecker) macro(m *macroDef) {
	for _, d := range m.defaults {
		if d != nil {
			c.expr(d, false)
		}
	}
	c.stmts(m.body, false)
}

func (c *nameChecker) exprs(xs []expr, soft bool) {
	for _, x := range xs {
		c.expr(x, soft)
	}
}

func (c *nameChecker) expr(x expr, soft bool) {
	if c.err != nil || x == nil {
		return
	}
	switch x := x.(type) {
	case *listExpr:
		c.exprs(x.items, soft)
	case *dictExpr:
		c.exprs(x.keys, soft)
		c.exprs(x.vals, soft)
	case *attrExpr:
		c.expr(x.x, soft)
	case *itemExpr:
		c.expr(x.x, soft)
		c.expr(x.key, soft)
	case *sliceExpr:
		c.exprs([]expr{x.x, x.lo, x.hi, x.stride}, soft)
	case *callExpr:
		c.expr(x.fn, soft)
		c.exprs(x.args, soft)
		c.exprs(x.kwVals, soft)
	case *filterExpr:
		if _, ok := filters[x.name]; !ok && !soft {
			c.err = newError(c.src, x.pos, "unsupported filter '%s'", x.name)
			return
		}
		c.expr(x.x, soft)
		c.exprs(x.args, soft)
		c.exprs(x.kwVals, soft)
	case *testExpr:
		if _, ok := tests[x.name]; !ok && !soft {
			c.err = newError(c.src, x.pos, "unsupported test '%s'", x.name)
			return
		}
		c.expr(x.x, soft)
		c.exprs(x.args, soft)
		c.exprs(x.kwVals, soft)
	case *unaryExpr:
		c.expr(x.x, soft)
	case *binExpr:
		c.expr(x.l, soft)
		c.expr(x.r, soft)
	case *compareExpr:
		c.expr(x.first, soft)
		c.exprs(x.rest, soft)
	case *condExpr:
		c.expr(x.cond, true)
		c.expr(x.yes, true)
		c.expr(x.no, true)
	}
}
