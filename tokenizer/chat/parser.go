package chat

// ---- statements ----

type node interface{}

type textNode struct{ s string }

type outputNode struct {
	x   expr
	pos int
}

type ifNode struct {
	conds  []expr
	bodies [][]node
	els    []node
}

type forNode struct {
	target []string
	tuple  bool
	iter   expr
	cond   expr
	body   []node
	els    []node
	pos    int

	undefBody, undefElse []string
}

type setNode struct {
	names []string // one name, or several for tuple unpacking
	tuple bool
	attr  string // non-empty for "set ns.attr = ..."
	value expr   // nil for block set
	body  []node // block set
	pos   int
	undef []string
}

type macroNode struct {
	m *macroDef
}

type macroDef struct {
	name     string
	params   []string
	defaults []expr // same length as params; nil entries have no default
	body     []node
	pos      int
	undef    []string // names undefined at frame start (see scopes.go)
}

// scopeNode renders its body in a new scope (the generation block).
type scopeNode struct {
	body  []node
	undef []string
}

type callBlockNode struct {
	call   *callExpr
	caller *macroDef
	pos    int
}

type filterBlockNode struct {
	filters []*filterExpr // each applied to the previous result; x is nil
	body    []node
	pos     int
	undef   []string
}

type withNode struct {
	names  []string
	values []expr
	body   []node
	undef  []string
}

type loopCtlNode struct {
	brk bool
	pos int
}

// ---- expressions ----

type expr interface{}

type constExpr struct{ v any }

type nameExpr struct {
	name string
	pos  int
}

type listExpr struct{ items []expr }

type dictExpr struct {
	keys, vals []expr
	pos        int
}

type attrExpr struct {
	x    expr
	name string
	pos  int
}

type itemExpr struct {
	x, key expr
	pos    int
}

type sliceExpr struct {
	x              expr
	lo, hi, stride expr
	pos            int
}

type callExpr struct {
	fn      expr
	args    []expr
	kwNames []string
	kwVals  []expr
	pos     int
}

type filterExpr struct {
	x       expr
	name    string
	args    []expr
	kwNames []string
	kwVals  []expr
	pos     int
}

type testExpr struct {
	x       expr
	name    string
	neg     bool
	args    []expr
	kwNames []string
	kwVals  []expr
	pos     int
}

type unaryExpr struct {
	op  string // "-", "+", "not"
	x   expr
	pos int
}

type binExpr struct {
	op   string // + - * / // % ** ~ and or
	l, r expr
	pos  int
}

type compareExpr struct {
	first expr
	ops   []string // == != < > <= >= in notin
	rest  []expr
	pos   int
}

type condExpr struct {
	cond, yes, no expr // no may be nil
	pos           int
}

// ---- parser ----

type parser struct {
	src       string
	toks      []token
	i         int
	loopDepth int
	depth     int
}

const maxParseDepth = 200

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return newError(p.src, pos, format, args...)
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.val == op
}

func (p *parser) isName(name string) bool {
	t := p.peek()
	return t.kind == tName && t.val == name
}

func (p *parser) skipOp(op string) bool {
	if p.isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) skipName(name string) bool {
	if p.isName(name) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.skipOp(op) {
		t := p.peek()
		return p.errAt(t.pos, "expected '%s', got %s", op, t.describe())
	}
	return nil
}

func (p *parser) expectName() (token, error) {
	t := p.peek()
	if t.kind != tName {
		return t, p.errAt(t.pos, "expected a name, got %s", t.describe())
	}
	p.i++
	return t, nil
}

func (p *parser) expectKind(k tokKind) error {
	t := p.peek()
	if t.kind != k {
		return p.errAt(t.pos, "expected %s, got %s", tokNames[k], t.describe())
	}
	p.i++
	return nil
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxParseDepth {
		return p.errAt(pos, "template nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func parseTemplate(src string) ([]node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	body, end, err := p.subparse(nil)
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, p.errAt(p.peek().pos, "unexpected '%s'", end)
	}
	return body, nil
}

var endTags = map[string]bool{
	"endif": true, "elif": true, "else": true, "endfor": true, "endset": true, "endmacro": true,
	"endcall": true, "endfilter": true, "endwith": true, "endgeneration": true, "endraw": true,
	"endblock": true,
}

// subparse parses nodes until one of the end tags (or EOF when ends is nil).
// On return the block-begin token of the end tag has been consumed and the
// tag name is the current token; the tag name is returned.
func (p *parser) subparse(ends []string) ([]node, string, error) {
	var body []node
	for {
		t := p.peek()
		switch t.kind {
		case tEOF:
			if ends != nil {
				return nil, "", p.errAt(t.pos, "unexpected end of template, expected '%s'", ends[0])
			}
			return body, "", nil
		case tText:
			p.next()
			body = append(body, &textNode{t.val})
		case tVarBegin:
			p.next()
			x, err := p.parseTupleExpr(true)
			if err != nil {
				return nil, "", err
			}
			if err := p.expectKind(tVarEnd); err != nil {
				return nil, "", err
			}
			body = append(body, &outputNode{x: x, pos: t.pos})
		case tBlockBegin:
			p.next()
			nt := p.peek()
			if nt.kind != tName {
				return nil, "", p.errAt(nt.pos, "expected a tag name, got %s", nt.describe())
			}
			for _, e := range ends {
				if nt.val == e {
					return body, e, nil
				}
			}
			if endTags[nt.val] {
				if ends == nil {
					return nil, "", p.errAt(nt.pos, "unexpected '%s'", nt.val)
				}
				return nil, "", p.errAt(nt.pos, "unexpected '%s', expected '%s'", nt.val, ends[0])
			}
			if err := p.enter(nt.pos); err != nil {
				return nil, "", err
			}
			n, err := p.parseStatement()
			p.leave()
			if err != nil {
				return nil, "", err
			}
			if n != nil {
				body = append(body, n)
			}
		default:
			return nil, "", p.errAt(t.pos, "unexpected %s", t.describe())
		}
	}
}

// endTag consumes "name %}" after subparse returned.
func (p *parser) endTag() error {
	p.next()
	return p.expectKind(tBlockEnd)
}

func (p *parser) parseStatement() (node, error) {
	t := p.next()
	switch t.val {
	case "if":
		return p.parseIf()
	case "for":
		return p.parseFor(t.pos)
	case "set":
		return p.parseSet(t.pos)
	case "macro":
		return p.parseMacro(t.pos)
	case "call":
		return p.parseCallBlock(t.pos)
	case "filter":
		return p.parseFilterBlock(t.pos)
	case "with":
		return p.parseWith()
	case "generation":
		if err := p.expectKind(tBlockEnd); err != nil {
			return nil, err
		}
		body, _, err := p.subparse([]string{"endgeneration"})
		if err != nil {
			return nil, err
		}
		return &scopeNode{body: body}, p.endTag()
	case "break", "continue":
		if p.loopDepth == 0 {
			return nil, p.errAt(t.pos, "'%s' outside of a loop", t.val)
		}
		return &loopCtlNode{brk: t.val == "break", pos: t.pos}, p.expectKind(tBlockEnd)
	case "extends", "include", "import", "from", "block", "autoescape", "do", "trans", "pluralize":
		return nil, p.errAt(t.pos, "unsupported tag '%s'", t.val)
	}
	return nil, p.errAt(t.pos, "unknown tag '%s'", t.val)
}

func (p *parser) parseIf() (node, error) {
	n := &ifNode{}
	for {
		c, err := p.parseTupleExpr(false)
		if err != nil {
			return nil, err
		}
		if err := p.expectKind(tBlockEnd); err != nil {
			return nil, err
		}
		body, end, err := p.subparse([]string{"endif", "elif", "else"})
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, c)
		n.bodies = append(n.bodies, body)
		p.next()
		switch end {
		case "elif":
			continue
		case "else":
			if err := p.expectKind(tBlockEnd); err != nil {
				return nil, err
			}
			n.els, _, err = p.subparse([]string{"endif"})
			if err != nil {
				return nil, err
			}
			return n, p.endTag()
		}
		return n, p.expectKind(tBlockEnd)
	}
}

// parseTarget parses an assignment target: name or "a, b" or "(a, b)".
func (p *parser) parseTarget() ([]string, bool, error) {
	paren := p.skipOp("(")
	var names []string
	tuple := paren
	for {
		t, err := p.expectName()
		if err != nil {
			return nil, false, err
		}
		names = append(names, t.val)
		if !p.skipOp(",") {
			break
		}
		tuple = true
		if p.isOp(")") || p.isName("in") || p.isOp("=") {
			break
		}
	}
	if paren {
		if err := p.expectOp(")"); err != nil {
			return nil, false, err
		}
	}
	return names, tuple, nil
}

func (p *parser) parseFor(pos int) (node, error) {
	n := &forNode{pos: pos}
	var err error
	n.target, n.tuple, err = p.parseTarget()
	if err != nil {
		return nil, err
	}
	if !p.skipName("in") {
		t := p.peek()
		return nil, p.errAt(t.pos, "expected 'in', got %s", t.describe())
	}
	if n.iter, err = p.parseTupleExpr(false); err != nil {
		return nil, err
	}
	if p.skipName("if") {
		if n.cond, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if p.isName("recursive") {
		return nil, p.errAt(p.peek().pos, "unsupported: recursive for loops")
	}
	if err := p.expectKind(tBlockEnd); err != nil {
		return nil, err
	}
	p.loopDepth++
	body, end, err := p.subparse([]string{"endfor", "else"})
	p.loopDepth--
	if err != nil {
		return nil, err
	}
	n.body = body
	if end == "else" {
		if err := p.endTag(); err != nil {
			return nil, err
		}
		if n.els, _, err = p.subparse([]string{"endfor"}); err != nil {
			return nil, err
		}
	}
	return n, p.endTag()
}

func (p *parser) parseSet(pos int) (node, error) {
	n := &setNode{pos: pos}
	t, err := p.expectName()
	if err != nil {
		return nil, err
	}
	if p.skipOp(".") {
		a, err := p.expectName()
		if err != nil {
			return nil, err
		}
		n.names, n.attr = []string{t.val}, a.val
	} else {
		p.i--
		if n.names, n.tuple, err = p.parseTarget(); err != nil {
			return nil, err
		}
	}
	if p.skipOp("=") {
		if n.value, err = p.parseTupleExpr(true); err != nil {
			return nil, err
		}
		return n, p.expectKind(tBlockEnd)
	}
	if n.attr != "" || n.tuple {
		return nil, p.errAt(p.peek().pos, "expected '=' in set")
	}
	if p.isOp("|") {
		return nil, p.errAt(p.peek().pos, "unsupported: filter on block set")
	}
	if err := p.expectKind(tBlockEnd); err != nil {
		return nil, err
	}
	if n.body, _, err = p.subparse([]string{"endset"}); err != nil {
		return nil, err
	}
	return n, p.endTag()
}

func (p *parser) parseSignature(m *macroDef) error {
	if err := p.expectOp("("); err != nil {
		return err
	}
	for !p.isOp(")") {
		if len(m.params) > 0 {
			if err := p.expectOp(","); err != nil {
				return err
			}
			if p.isOp(")") {
				break
			}
		}
		t, err := p.expectName()
		if err != nil {
			return err
		}
		var def expr
		if p.skipOp("=") {
			if def, err = p.parseExpr(); err != nil {
				return err
			}
		}
		m.params = append(m.params, t.val)
		m.defaults = append(m.defaults, def)
	}
	p.next()
	return nil
}

func (p *parser) parseMacro(pos int) (node, error) {
	t, err := p.expectName()
	if err != nil {
		return nil, err
	}
	m := &macroDef{name: t.val, pos: pos}
	if err := p.parseSignature(m); err != nil {
		return nil, err
	}
	if err := p.expectKind(tBlockEnd); err != nil {
		return nil, err
	}
	saved := p.loopDepth
	p.loopDepth = 0
	m.body, _, err = p.subparse([]string{"endmacro"})
	p.loopDepth = saved
	if err != nil {
		return nil, err
	}
	return &macroNode{m}, p.endTag()
}

func (p *parser) parseCallBlock(pos int) (node, error) {
	caller := &macroDef{name: "caller", pos: pos}
	if p.isOp("(") {
		if err := p.parseSignature(caller); err != nil {
			return nil, err
		}
	}
	x, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	call, ok := x.(*callExpr)
	if !ok {
		return nil, p.errAt(pos, "expected a call expression in call block")
	}
	if err := p.expectKind(tBlockEnd); err != nil {
		return nil, err
	}
	saved := p.loopDepth
	p.loopDepth = 0
	caller.body, _, err = p.subparse([]string{"endcall"})
	p.loopDepth = saved
	if err != nil {
		return nil, err
	}
	return &callBlockNode{call: call, caller: caller, pos: pos}, p.endTag()
}

func (p *parser) parseFilterBlock(pos int) (node, error) {
	n := &filterBlockNode{pos: pos}
	for {
		f, err := p.parseFilter(nil)
		if err != nil {
			return nil, err
		}
		n.filters = append(n.filters, f)
		if !p.skipOp("|") {
			break
		}
	}
	if err := p.expectKind(tBlockEnd); err != nil {
		return nil, err
	}
	var err error
	if n.body, _, err = p.subparse([]string{"endfilter"}); err != nil {
		return nil, err
	}
	return n, p.endTag()
}

func (p *parser) parseWith() (node, error) {
	n := &withNode{}
	for !p.isKind(tBlockEnd) {
		if len(n.names) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		t, err := p.expectName()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		v, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		n.names = append(n.names, t.val)
		n.values = append(n.values, v)
	}
	p.next()
	var err error
	if n.body, _, err = p.subparse([]string{"endwith"}); err != nil {
		return nil, err
	}
	return n, p.endTag()
}

func (p *parser) isKind(k tokKind) bool { return p.peek().kind == k }

// ---- expressions ----

// parseTupleExpr parses an expression, or a comma-separated tuple of them.
func (p *parser) parseTupleExpr(withCond bool) (expr, error) {
	parse := p.parseExpr
	if !withCond {
		parse = p.parseOr
	}
	x, err := parse()
	if err != nil || !p.isOp(",") {
		return x, err
	}
	items := []expr{x}
	for p.skipOp(",") {
		if p.isKind(tBlockEnd) || p.isKind(tVarEnd) || p.isName("if") {
			break
		}
		y, err := parse()
		if err != nil {
			return nil, err
		}
		items = append(items, y)
	}
	return &listExpr{items}, nil
}

func (p *parser) parseExpr() (expr, error) {
	pos := p.peek().pos
	if err := p.enter(pos); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		pos := p.next().pos
		c, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var no expr
		if p.skipName("else") {
			if no, err = p.parseExpr(); err != nil {
				return nil, err
			}
		}
		x = &condExpr{cond: c, yes: x, no: no, pos: pos}
	}
	return x, nil
}

func (p *parser) parseOr() (expr, error) {
	x, err := p.parseAnd()
	for err == nil && p.isName("or") {
		pos := p.next().pos
		var y expr
		if y, err = p.parseAnd(); err == nil {
			x = &binExpr{op: "or", l: x, r: y, pos: pos}
		}
	}
	return x, err
}

func (p *parser) parseAnd() (expr, error) {
	x, err := p.parseNot()
	for err == nil && p.isName("and") {
		pos := p.next().pos
		var y expr
		if y, err = p.parseNot(); err == nil {
			x = &binExpr{op: "and", l: x, r: y, pos: pos}
		}
	}
	return x, err
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		pos := p.next().pos
		if err := p.enter(pos); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "not", x: x, pos: pos}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	pos := p.peek().pos
	x, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var ops []string
	var rest []expr
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == ">" || t.val == "<=" || t.val == ">="):
			op = t.val
			p.next()
		case t.kind == tName && t.val == "in":
			op = "in"
			p.next()
		case t.kind == tName && t.val == "not" && p.toks[p.i+1].kind == tName && p.toks[p.i+1].val == "in":
			op = "notin"
			p.i += 2
		}
		if op == "" {
			break
		}
		y, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		rest = append(rest, y)
	}
	if ops == nil {
		return x, nil
	}
	return &compareExpr{first: x, ops: ops, rest: rest, pos: pos}, nil
}

func (p *parser) parseBinary(ops []string, sub func() (expr, error)) (expr, error) {
	x, err := sub()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp {
			return x, nil
		}
		found := false
		for _, o := range ops {
			if t.val == o {
				found = true
			}
		}
		if !found {
			return x, nil
		}
		p.next()
		y, err := sub()
		if err != nil {
			return nil, err
		}
		x = &binExpr{op: t.val, l: x, r: y, pos: t.pos}
	}
}

func (p *parser) parseMath1() (expr, error) {
	return p.parseBinary([]string{"+", "-"}, p.parseConcat)
}

func (p *parser) parseConcat() (expr, error) {
	return p.parseBinary([]string{"~"}, p.parseMath2)
}

func (p *parser) parseMath2() (expr, error) {
	return p.parseBinary([]string{"*", "/", "//", "%"}, p.parsePow)
}

func (p *parser) parsePow() (expr, error) {
	return p.parseBinary([]string{"**"}, func() (expr, error) { return p.parseUnary(true) })
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	t := p.peek()
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	var x expr
	var err error
	if t.kind == tOp && (t.val == "-" || t.val == "+") {
		p.next()
		var y expr
		if y, err = p.parseUnary(false); err != nil {
			return nil, err
		}
		x = &unaryExpr{op: t.val, x: y, pos: t.pos}
	} else if x, err = p.parsePrimary(); err != nil {
		return nil, err
	}
	if x, err = p.parsePostfix(x); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(x)
	}
	return x, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tName:
		switch t.val {
		case "true", "True":
			return &constExpr{true}, nil
		case "false", "False":
			return &constExpr{false}, nil
		case "none", "None":
			return &constExpr{nil}, nil
		}
		return &nameExpr{name: t.val, pos: t.pos}, nil
	case tString:
		s := t.val
		for p.isKind(tString) {
			s += p.next().val
		}
		return &constExpr{s}, nil
	case tInt:
		return &constExpr{t.ival}, nil
	case tFloat:
		return &constExpr{t.fval}, nil
	case tOp:
		switch t.val {
		case "(":
			if p.skipOp(")") {
				return &listExpr{}, nil
			}
			x, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.skipOp(")") {
				return x, nil
			}
			items := []expr{x}
			for p.skipOp(",") {
				if p.isOp(")") {
					break
				}
				y, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				items = append(items, y)
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &listExpr{items}, nil
		case "[":
			l := &listExpr{}
			for !p.isOp("]") {
				if len(l.items) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				x, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, x)
			}
			p.next()
			return l, nil
		case "{":
			d := &dictExpr{pos: t.pos}
			for !p.isOp("}") {
				if len(d.keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("}") {
						break
					}
				}
				k, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
			}
			p.next()
			return d, nil
		}
	}
	return nil, p.errAt(t.pos, "unexpected %s", t.describe())
}

func (p *parser) parsePostfix(x expr) (expr, error) {
	for {
		t := p.peek()
		if t.kind != tOp {
			return x, nil
		}
		switch t.val {
		case ".":
			p.next()
			a := p.next()
			switch a.kind {
			case tName:
				x = &attrExpr{x: x, name: a.val, pos: a.pos}
			case tInt:
				x = &itemExpr{x: x, key: &constExpr{a.ival}, pos: a.pos}
			default:
				return nil, p.errAt(a.pos, "expected an attribute name after '.', got %s", a.describe())
			}
		case "[":
			p.next()
			var err error
			if x, err = p.parseSubscript(x, t.pos); err != nil {
				return nil, err
			}
		case "(":
			var err error
			if x, err = p.parseCall(x); err != nil {
				return nil, err
			}
		default:
			return x, nil
		}
	}
}

func (p *parser) parseSubscript(x expr, pos int) (expr, error) {
	var parts [3]expr
	n := 0
	slice := false
	for {
		if !p.isOp(":") && !p.isOp("]") {
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			parts[n] = e
		}
		if p.skipOp("]") {
			break
		}
		if n == 2 || !p.isOp(":") {
			t := p.peek()
			return nil, p.errAt(t.pos, "expected ']' in subscript, got %s", t.describe())
		}
		p.next()
		slice = true
		n++
	}
	if !slice {
		if parts[0] == nil {
			return nil, p.errAt(pos, "empty subscript")
		}
		return &itemExpr{x: x, key: parts[0], pos: pos}, nil
	}
	return &sliceExpr{x: x, lo: parts[0], hi: parts[1], stride: parts[2], pos: pos}, nil
}

func (p *parser) parseArgs() (args []expr, kwNames []string, kwVals []expr, err error) {
	if err = p.expectOp("("); err != nil {
		return
	}
	for !p.isOp(")") {
		if len(args)+len(kwNames) > 0 {
			if err = p.expectOp(","); err != nil {
				return
			}
			if p.isOp(")") {
				break
			}
		}
		if p.isOp("*") || p.isOp("**") {
			err = p.errAt(p.peek().pos, "unsupported: *args / **kwargs in calls")
			return
		}
		t := p.peek()
		if t.kind == tName && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].val == "=" {
			p.i += 2
			var v expr
			if v, err = p.parseExpr(); err != nil {
				return
			}
			kwNames = append(kwNames, t.val)
			kwVals = append(kwVals, v)
			continue
		}
		if len(kwNames) > 0 {
			err = p.errAt(t.pos, "positional argument after keyword argument")
			return
		}
		var v expr
		if v, err = p.parseExpr(); err != nil {
			return
		}
		args = append(args, v)
	}
	p.next()
	return
}

func (p *parser) parseCall(fn expr) (expr, error) {
	pos := p.peek().pos
	args, kn, kv, err := p.parseArgs()
	if err != nil {
		return nil, err
	}
	return &callExpr{fn: fn, args: args, kwNames: kn, kwVals: kv, pos: pos}, nil
}

func (p *parser) dottedName() (token, error) {
	t, err := p.expectName()
	if err != nil {
		return t, err
	}
	for p.isOp(".") && p.toks[p.i+1].kind == tName {
		p.i++
		t.val += "." + p.next().val
	}
	return t, nil
}

func (p *parser) parseFilter(x expr) (*filterExpr, error) {
	t, err := p.dottedName()
	if err != nil {
		return nil, err
	}
	f := &filterExpr{x: x, name: t.val, pos: t.pos}
	if p.isOp("(") {
		if f.args, f.kwNames, f.kwVals, err = p.parseArgs(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (p *parser) parseFilterExpr(x expr) (expr, error) {
	for {
		switch {
		case p.isOp("|"):
			p.next()
			f, err := p.parseFilter(x)
			if err != nil {
				return nil, err
			}
			x = f
		case p.isName("is"):
			p.next()
			neg := p.skipName("not")
			t, err := p.dottedName()
			if err != nil {
				return nil, err
			}
			te := &testExpr{x: x, name: t.val, neg: neg, pos: t.pos}
			nt := p.peek()
			switch {
			case p.isOp("("):
				if te.args, te.kwNames, te.kwVals, err = p.parseArgs(); err != nil {
					return nil, err
				}
			case nt.kind == tName || nt.kind == tString || nt.kind == tInt || nt.kind == tFloat ||
				nt.kind == tOp && (nt.val == "[" || nt.val == "{"):
				if nt.kind == tName && (nt.val == "else" || nt.val == "or" || nt.val == "and") {
					break
				}
				if nt.kind == tName && nt.val == "is" {
					return nil, p.errAt(nt.pos, "cannot chain multiple tests with 'is'")
				}
				a, err := p.parsePrimary()
				if err != nil {
					return nil, err
				}
				if a, err = p.parsePostfix(a); err != nil {
					return nil, err
				}
				te.args = []expr{a}
			}
			x = te
		case p.isOp("("):
			var err error
			if x, err = p.parseCall(x); err != nil {
				return nil, err
			}
		default:
			return x, nil
		}
	}
}
