// Step 1 of the tutorial: a Go module that has Highway's fanout. If this
// runs, your world is set up.
package main

import (
	"context"
	"fmt"

	"github.com/citypopy/highway/fanout"
)

func main() {
	hello := fanout.Func[string](func(context.Context, map[string]string) (string, error) {
		return "Hello from AI City!", nil
	})
	rep := fanout.Gather(context.Background(), []fanout.Task[string]{{Name: "hello", Source: hello}}, fanout.Options{})
	fmt.Println("async-city is set up:", rep.Results[0].Value)
}
