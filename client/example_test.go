package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/userimages/userimages/client"
	"github.com/userimages/userimages/client/api"
)

// The README quotes the bodies of these examples verbatim
// (e2e/readme_test.go's TestREADMEGoExamples checks it), so that what it
// shows compiles.

func Example() {
	ctx := context.Background()
	token := os.Getenv("USERIMAGES_TOKEN") // email/token:API_TOKEN's API_TOKEN
	c, err := client.New("http://127.0.0.1:8080", client.WithAPIToken("ann@example.com", token))
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := c.UploadFile(ctx, "photo.jpg", "10016", func(sent, total int64) { /* progress */ })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Path) // /hc/user_images/<id>.jpeg, what goes into a post
}

func ExampleError() {
	c, err := client.New("http://127.0.0.1:8080")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.UploadFile(context.Background(), "photo.jpg", "10016", nil)
	var e *client.Error
	switch {
	case errors.As(err, &e) && e.Code == api.CodeBrandNotFound:
		fmt.Println("no brand 10016 on this server:", e.Detail)
	case errors.As(err, &e) && e.Code.NeedsNewUpload():
		fmt.Println("upload the file again:", e.Detail)
	case err != nil:
		fmt.Println(err) // a network error, a context error, or another *client.Error
	}
}

func ExampleImage_Srcset() {
	// An Image from Upload (or Measure) knows the picture's width when the
	// server says it: the srcset then lists no width the picture does not
	// have, and the picture itself at its own.
	img := client.Image{Path: "/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg", URL: "https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg", Width: 500, Height: 375}
	fmt.Println(img.VariantURL(320, "webp"))
	fmt.Println(img.Srcset([]int{320, 640, 1280}))
	// Output:
	// https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg?w=320&fm=webp
	// https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg?w=320&auto=format 320w, https://help.example.com/hc/user_images/81TKxGEqVJruMIz7RCN8JA.jpeg 500w
}
