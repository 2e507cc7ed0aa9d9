//go:build !race

package imagesafe

// raceEnabled: see race_on_test.go.
const raceEnabled = false
