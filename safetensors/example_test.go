package safetensors_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gopard/gopard/safetensors"
	"github.com/gopard/gopard/tensor"
)

func Example() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.safetensors")

	w := tensor.Convert(tensor.FromF32([]float32{1, 2, 3, 4, 5, 6}, 2, 3), tensor.BF16)
	b := tensor.FromF32([]float32{0.5, -0.5}, 2)
	err = safetensors.Write(path, []safetensors.NamedTensor{
		{Name: "layer.weight", T: w},
		{Name: "layer.bias", T: b},
	}, map[string]string{"format": "pt"})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println("metadata:", f.Metadata())
	for _, name := range f.Names() {
		t, err := f.Tensor(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, t, t.ToF32())
	}
	// Output:
	// metadata: map[format:pt]
	// layer.bias F32[2] [0.5 -0.5]
	// layer.weight BF16[2 3] [1 2 3 4 5 6]
}
