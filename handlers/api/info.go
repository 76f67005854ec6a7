package api

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"till/handlers/render"
	"till/models"
	kaspaw "till/workers/kaspa"
)

// NetworkSource gives live Kaspa chain statistics (workers/kaspa.NetworkStats).
type NetworkSource interface {
	Stats(ctx context.Context) (kaspaw.BlockDAG, error)
}

// Price returns the live KAS/USD price: GET /api/price. A missing, zero or
// stale price is a 503, never a made-up number.
func (a *API) Price(c *fiber.Ctx) error {
	if a.Rates == nil {
		return render.Errorf(fiber.StatusServiceUnavailable, "Price unavailable")
	}
	q, err := a.Rates.Quote(c.UserContext())
	if err != nil {
		return render.Errorf(fiber.StatusServiceUnavailable, "Price unavailable: no fresh KAS/USD price right now")
	}
	return render.JSON(c, fiber.StatusOK, fiber.Map{
		"price": json.Number(q.Rate), "currency": "USD", "source": q.Source, "updatedAt": models.ISOTime(q.At),
	})
}

type networkResponse struct {
	BlockCount      uint64  `json:"blockCount"`
	HeaderCount     uint64  `json:"headerCount"`
	Difficulty      float64 `json:"difficulty"`
	VirtualDaaScore uint64  `json:"virtualDaaScore"`
	NetworkName     string  `json:"networkName"`
	PastMedianTime  uint64  `json:"pastMedianTime"`
}

// Network returns live chain statistics with counters as JSON numbers:
// GET /api/network.
func (a *API) Network(c *fiber.Ctx) error {
	if a.Chain == nil {
		return render.Errorf(fiber.StatusServiceUnavailable, "Network statistics unavailable")
	}
	d, err := a.Chain.Stats(c.UserContext())
	if err != nil {
		return render.Errorf(fiber.StatusServiceUnavailable, "Network statistics unavailable: the Kaspa API did not answer")
	}
	return render.JSON(c, fiber.StatusOK, networkResponse{
		BlockCount: d.BlockCount, HeaderCount: d.HeaderCount, Difficulty: d.Difficulty,
		VirtualDaaScore: d.VirtualDaaScore, NetworkName: strings.TrimPrefix(d.NetworkName, "kaspa-"),
		PastMedianTime: d.PastMedianTime,
	})
}
