// Package price prices Claude API calls per model: an embedded table plus a
// user's TOML file that adds or overrides models.
package price

// Table is a set of model prices.
type Table struct {
	models map[string]Model
}

// Model is one model's rates in dollars per token.
type Model struct {
	Input, Output, CacheWrite5m, CacheWrite1h, CacheRead float64
}
