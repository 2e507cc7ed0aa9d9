//go:build race

package imagesafe

// raceEnabled: the race detector slows decoding tenfold, so the long
// differential tests check a sample.
const raceEnabled = true
