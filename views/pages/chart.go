package pages

import (
	"strconv"

	"till/models"
)

// The overview's revenue chart is drawn on the server as an SVG of bars:
// no chart library, no script, nothing for the CSP to block. Coordinates
// are display values only; amounts are compared as integers.

const (
	chartW = 600.0
	chartH = 160.0
	// chartTop leaves room above the tallest bar.
	chartTop = 8.0
)

type chartBar struct {
	X, Y, W, H string
	Label      string
	Zero       bool
}

type revenueChart struct {
	Bars []chartBar
	// Scale is the value of the top gridline, in sompi.
	Scale int64
	Total int64
	Count int64
	// Best is the day with the most revenue (nil when there is none).
	Best  *models.DayRevenue
	Days  []models.DayRevenue
	First string
	Mid   string
	Last  string
	// Grid are the y positions of the gridlines (25 %, 50 %, 75 %, 100 %).
	Grid []string
}

func coord(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// niceScale rounds max up to 1, 2 or 5 × 10^k KAS, in sompi.
func niceScale(max int64) int64 {
	if max <= 0 {
		return models.SompiPerKAS
	}
	step := int64(1) // sompi
	for {
		for _, m := range []int64{1, 2, 5} {
			if step*m >= max {
				return step * m
			}
		}
		if step > (1<<62)/10 {
			return max
		}
		step *= 10
	}
}

func dayLabel(d models.DayRevenue) string { return d.Day.Format("Jan 2") }

func newRevenueChart(days []models.DayRevenue) revenueChart {
	c := revenueChart{Days: days}
	var max int64
	for i := range days {
		d := &days[i]
		c.Total += d.Sompi
		c.Count += d.Count
		if d.Sompi > max {
			max = d.Sompi
			c.Best = d
		}
	}
	c.Scale = niceScale(max)
	n := len(days)
	if n == 0 {
		return c
	}
	c.First, c.Mid, c.Last = dayLabel(days[0]), dayLabel(days[n/2]), dayLabel(days[n-1])
	slot := chartW / float64(n)
	plot := chartH - chartTop
	for _, frac := range []float64{0.25, 0.5, 0.75, 1} {
		c.Grid = append(c.Grid, coord(chartH-plot*frac))
	}
	for i, d := range days {
		h := plot * float64(d.Sompi) / float64(c.Scale)
		zero := d.Sompi == 0
		if zero {
			h = 2
		} else if h < 2 {
			h = 2
		}
		label := d.Day.Format("Mon Jan 2") + ": " + KAS(d.Sompi)
		if d.Count > 0 {
			label += " (" + Plural(d.Count, "payment", "payments") + ")"
		}
		c.Bars = append(c.Bars, chartBar{
			X: coord(float64(i)*slot + slot*0.15), W: coord(slot * 0.7),
			Y: coord(chartH - h), H: coord(h), Label: label, Zero: zero,
		})
	}
	return c
}

// summary is the chart's text alternative in one sentence.
func (c revenueChart) summary() string {
	if c.Total == 0 {
		return "No confirmed revenue in the last " + strconv.Itoa(len(c.Days)) + " days."
	}
	return KAS(c.Total) + " confirmed in " + Plural(c.Count, "payment", "payments") + " over the last " +
		strconv.Itoa(len(c.Days)) + " days; the best day was " + c.Best.Day.Format("January 2") + " with " + KAS(c.Best.Sompi) + "."
}
