package chat_test

import (
	"fmt"

	"github.com/gopard/gopard/tokenizer/chat"
)

func Example() {
	tmpl, err := chat.Parse(`{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}`)
	if err != nil {
		panic(err)
	}
	prompt, err := chat.RenderRequest(tmpl, []byte(`{
		"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}],
		"add_generation_prompt": true}`), nil)
	if err != nil {
		panic(err)
	}
	fmt.Print(prompt)
	// Output:
	// <|im_start|>system
	// Be brief.<|im_end|>
	// <|im_start|>user
	// Hi!<|im_end|>
	// <|im_start|>assistant
}
