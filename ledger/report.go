package ledger

import (
	"context"
	"time"
)

// Query selects what a report covers.
type Query struct {
	Since, Until string         // "" or YYYYMMDD or YYYY-MM-DD, inclusive, local dates in Location
	Location     *time.Location // nil = UTC
	Project      string         // "" = all; the raw project directory name
}

// Fields of every JSON object below are in alphabetical order, as ccusage
// writes them.

// ModelBreakdown is one model's share of a row.
type ModelBreakdown struct {
	CacheCreationTokens int64   `json:"cacheCreationTokens"`
	CacheReadTokens     int64   `json:"cacheReadTokens"`
	Cost                float64 `json:"cost"`
	InputTokens         int64   `json:"inputTokens"`
	ModelName           string  `json:"modelName"`
	OutputTokens        int64   `json:"outputTokens"`
}

// Totals sums a report's rows.
type Totals struct {
	CacheCreationTokens int64   `json:"cacheCreationTokens"`
	CacheReadTokens     int64   `json:"cacheReadTokens"`
	InputTokens         int64   `json:"inputTokens"`
	OutputTokens        int64   `json:"outputTokens"`
	TotalCost           float64 `json:"totalCost"`
	TotalTokens         int64   `json:"totalTokens"`
}

// DailyRow is one local day.
type DailyRow struct {
	CacheCreationTokens int64            `json:"cacheCreationTokens"`
	CacheReadTokens     int64            `json:"cacheReadTokens"`
	Date                string           `json:"date"`
	InputTokens         int64            `json:"inputTokens"`
	ModelBreakdowns     []ModelBreakdown `json:"modelBreakdowns"`
	ModelsUsed          []string         `json:"modelsUsed"`
	OutputTokens        int64            `json:"outputTokens"`
	TotalCost           float64          `json:"totalCost"`
	TotalTokens         int64            `json:"totalTokens"`
}

// DailyReport is `ccusage claude daily --json`.
type DailyReport struct {
	Daily  []DailyRow `json:"daily"`
	Totals Totals     `json:"totals"`
}

// MonthlyRow is one local month.
type MonthlyRow struct {
	CacheCreationTokens int64            `json:"cacheCreationTokens"`
	CacheReadTokens     int64            `json:"cacheReadTokens"`
	InputTokens         int64            `json:"inputTokens"`
	ModelBreakdowns     []ModelBreakdown `json:"modelBreakdowns"`
	ModelsUsed          []string         `json:"modelsUsed"`
	Month               string           `json:"month"`
	OutputTokens        int64            `json:"outputTokens"`
	TotalCost           float64          `json:"totalCost"`
	TotalTokens         int64            `json:"totalTokens"`
}

// MonthlyReport is `ccusage claude monthly --json`.
type MonthlyReport struct {
	Monthly []MonthlyRow `json:"monthly"`
	Totals  Totals       `json:"totals"`
}

// SessionRow is one session.
type SessionRow struct {
	CacheCreationTokens int64            `json:"cacheCreationTokens"`
	CacheReadTokens     int64            `json:"cacheReadTokens"`
	FirstActivity       string           `json:"firstActivity"`
	InputTokens         int64            `json:"inputTokens"`
	LastActivity        string           `json:"lastActivity"`
	ModelBreakdowns     []ModelBreakdown `json:"modelBreakdowns"`
	ModelsUsed          []string         `json:"modelsUsed"`
	OutputTokens        int64            `json:"outputTokens"`
	ProjectPath         string           `json:"projectPath"`
	SessionID           string           `json:"sessionId"`
	TotalCost           float64          `json:"totalCost"`
	TotalTokens         int64            `json:"totalTokens"`
}

// SessionReport is `ccusage claude session --json`.
type SessionReport struct {
	Sessions []SessionRow `json:"sessions"`
	Totals   Totals       `json:"totals"`
}

// Daily reports usage per local day.
func (l *Ledger) Daily(ctx context.Context, q Query) (*DailyReport, error) {
	return nil, errNotYet
}

// Monthly reports usage per local month.
func (l *Ledger) Monthly(ctx context.Context, q Query) (*MonthlyReport, error) {
	return nil, errNotYet
}

// Sessions reports usage per session, costliest first.
func (l *Ledger) Sessions(ctx context.Context, q Query) (*SessionReport, error) {
	return nil, errNotYet
}
