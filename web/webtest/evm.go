package webtest

import (
	"sync"

	"till/models"
	"till/models/evm"
)

var registerExplorers sync.Once

// WithEVMChains enables built-in EVM chains by name (e.g. "base-sepolia")
// in the store, with the table's chain ID, USDC contract and depth, as
// cmd/till does from TILL_EVM_CHAINS; their explorers are registered for
// models.ExplorerTxURL. Pass it to NewWith. Unknown names fail the build of
// the option (a test bug), so it panics.
func WithEVMChains(names ...string) func(*models.StoreOptions) {
	registerExplorers.Do(func() {
		for _, c := range evm.Builtins() {
			if c.Explorer != "" {
				models.RegisterEVMExplorer(c.Name, c.Explorer+"/tx/")
			}
		}
	})
	chains := make(map[string]models.EVMChain, len(names))
	for _, n := range names {
		c, ok := evm.Builtin(n)
		if !ok {
			panic("webtest: unknown EVM chain " + n)
		}
		chains[n] = models.EVMChain{ChainID: int64(c.ChainID), USDC: c.USDC.Lower(), Confirmations: int(c.Confirmations)}
	}
	return func(o *models.StoreOptions) { o.EVMChains = chains }
}
