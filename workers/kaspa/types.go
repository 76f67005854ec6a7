package kaspa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// UTXO is one unspent output returned by POST /addresses/utxos. It is
// node-backed: present as soon as the transaction is accepted, gone once
// spent. Key payments by (TransactionID, Index), never by BlockDaaScore,
// which changes on a reorg.
type UTXO struct {
	// Address is the address the output pays (the API's own spelling).
	Address string
	// TransactionID is the 64-hex id of the creating transaction.
	TransactionID string
	// Index is the output index within that transaction.
	Index uint32
	// Amount is the value in sompi (the API sends it as a JSON string).
	Amount uint64
	// BlockDaaScore is the DAA score of the accepting chain block (sent as
	// a string); confirmations = virtual DAA score − BlockDaaScore.
	BlockDaaScore uint64
	// IsCoinbase marks miner rewards.
	IsCoinbase bool
	// ScriptPublicKey is the output script in hex (version prefix removed).
	ScriptPublicKey string
}

// BlockDAG is GET /info/blockdag. The API sends the counters as strings;
// they are parsed exactly.
type BlockDAG struct {
	// NetworkName is "kaspa-mainnet" or "kaspa-testnet-10".
	NetworkName string
	BlockCount  uint64
	HeaderCount uint64
	TipHashes   []string
	// Difficulty is a float in the API; it is not money, so float64 is fine.
	Difficulty float64
	// PastMedianTime is in ms since the Unix epoch.
	PastMedianTime      uint64
	VirtualParentHashes []string
	PruningPointHash    string
	// VirtualDaaScore is the score UTXO confirmations are measured against.
	VirtualDaaScore uint64
	// Sink is the sink block hash ("" on servers older than 2025).
	Sink string
}

// Transaction is the REST API's TxModel (indexer-backed, so it may lag the
// node by seconds to minutes).
type Transaction struct {
	ID           string
	Hash         string
	SubnetworkID string
	// Mass is the compute mass (a string in the API; 0 when absent/null).
	Mass        uint64
	Payload     string
	BlockHashes []string
	// BlockTime is the including block's timestamp in ms.
	BlockTime int64
	Version   int
	// IsAccepted is false for transactions merged but not accepted (e.g. a
	// lost double spend) and for ones not yet accepted.
	IsAccepted         bool
	AcceptingBlockHash string
	// AcceptingBlueScore is nil when the transaction is not accepted;
	// confirmations = sink blue score − *AcceptingBlueScore.
	AcceptingBlueScore *uint64
	// AcceptingBlockTime is in ms, 0 when unknown.
	AcceptingBlockTime int64
	Inputs             []TxInput
	Outputs            []TxOutput
}

// CoinbaseSubnetworkID is the subnetwork id of coinbase transactions.
const CoinbaseSubnetworkID = "0100000000000000000000000000000000000000"

// IsCoinbase tells a miner reward apart in the history shape: the coinbase
// subnetwork id, and no inputs (every other transaction spends something).
func (t Transaction) IsCoinbase() bool {
	return t.SubnetworkID == CoinbaseSubnetworkID || len(t.Inputs) == 0
}

// TxInput is one transaction input. The previous-outpoint address and
// amount are only filled when the server resolved them
// (resolve_previous_outpoints=light, which this client always asks for);
// otherwise they are "" and 0.
type TxInput struct {
	Index                   uint32
	PreviousOutpointHash    string
	PreviousOutpointIndex   uint32
	PreviousOutpointAddress string
	PreviousOutpointAmount  uint64
	SignatureScript         string
	SigOpCount              uint32
}

// TxOutput is one transaction output.
type TxOutput struct {
	Index uint32
	// Amount is in sompi.
	Amount                 uint64
	ScriptPublicKey        string
	ScriptPublicKeyAddress string
	// ScriptPublicKeyType is pubkey, pubkeyecdsa, scripthash or nonstandard.
	ScriptPublicKeyType string
}

// ChainBlock is one chain block of GET /virtual-chain with the transactions
// it accepted (only blocks that accepted at least one are listed).
type ChainBlock struct {
	Hash string
	// BlueScore is the block's blue score: the accepting blue score of its
	// transactions (confirmations = sink blue score − BlueScore).
	BlueScore uint64
	// DaaScore is the block's DAA score (0 when the server omits it), the
	// blockDaaScore the accepted outputs' UTXOs carry.
	DaaScore uint64
	// Timestamp is the block time in ms (0 when omitted).
	Timestamp    int64
	Transactions []ChainTx
}

// ChainTx is one accepted transaction of a ChainBlock.
type ChainTx struct {
	ID string
	// Outputs are the outputs that pay an address, in output order.
	Outputs []ChainOutput
}

// ChainOutput is one output of a ChainTx.
type ChainOutput struct {
	// Index is the output's position in the transaction (the API sends the
	// outputs in index order without the index).
	Index   uint32
	Address string
	// Amount is in sompi.
	Amount uint64
}

// --- wire decoding ---------------------------------------------------------

// uintJSON decodes an unsigned integer sent either as a JSON string of
// digits ("11501593788") or as a JSON integer, exactly (never via float64).
// set records whether a non-null value was present.
type uintJSON struct {
	v   uint64
	set bool
}

func (u *uintJSON) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*u = uintJSON{}
		return nil
	}
	s := string(b)
	if len(b) >= 2 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an unsigned integer: %.40q", string(b))
	}
	*u = uintJSON{v: v, set: true}
	return nil
}

// intJSON is the signed counterpart of uintJSON (block times in ms).
type intJSON struct {
	v   int64
	set bool
}

func (u *intJSON) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*u = intJSON{}
		return nil
	}
	s := string(b)
	if len(b) >= 2 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %.40q", string(b))
	}
	*u = intJSON{v: v, set: true}
	return nil
}

// scriptJSON accepts {"scriptPublicKey":"hex"} (REST model) or a bare hex
// string (node-style).
type scriptJSON string

func (s *scriptJSON) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = scriptJSON(v)
		return nil
	}
	var o struct {
		ScriptPublicKey string `json:"scriptPublicKey"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*s = scriptJSON(o.ScriptPublicKey)
	return nil
}

type wireUTXO struct {
	Address  string `json:"address"`
	Outpoint struct {
		TransactionID string   `json:"transactionId"`
		Index         uintJSON `json:"index"`
	} `json:"outpoint"`
	UtxoEntry struct {
		Amount          uintJSON   `json:"amount"`
		ScriptPublicKey scriptJSON `json:"scriptPublicKey"`
		BlockDaaScore   uintJSON   `json:"blockDaaScore"`
		IsCoinbase      bool       `json:"isCoinbase"`
	} `json:"utxoEntry"`
}

func (w wireUTXO) convert() (UTXO, error) {
	switch {
	case !isTxID(w.Outpoint.TransactionID):
		return UTXO{}, fmt.Errorf("utxo: bad transactionId %.80q", w.Outpoint.TransactionID)
	case !w.Outpoint.Index.set || w.Outpoint.Index.v > 0xFFFFFFFF:
		return UTXO{}, errors.New("utxo: missing or bad outpoint index")
	case !w.UtxoEntry.Amount.set:
		return UTXO{}, errors.New("utxo: missing amount")
	case !w.UtxoEntry.BlockDaaScore.set:
		return UTXO{}, errors.New("utxo: missing blockDaaScore")
	case w.Address == "":
		return UTXO{}, errors.New("utxo: missing address")
	}
	return UTXO{
		Address:         w.Address,
		TransactionID:   w.Outpoint.TransactionID,
		Index:           uint32(w.Outpoint.Index.v),
		Amount:          w.UtxoEntry.Amount.v,
		BlockDaaScore:   w.UtxoEntry.BlockDaaScore.v,
		IsCoinbase:      w.UtxoEntry.IsCoinbase,
		ScriptPublicKey: string(w.UtxoEntry.ScriptPublicKey),
	}, nil
}

type wireBlockDAG struct {
	NetworkName         string      `json:"networkName"`
	BlockCount          uintJSON    `json:"blockCount"`
	HeaderCount         uintJSON    `json:"headerCount"`
	TipHashes           []string    `json:"tipHashes"`
	Difficulty          json.Number `json:"difficulty"`
	PastMedianTime      uintJSON    `json:"pastMedianTime"`
	VirtualParentHashes []string    `json:"virtualParentHashes"`
	PruningPointHash    string      `json:"pruningPointHash"`
	VirtualDaaScore     uintJSON    `json:"virtualDaaScore"`
	Sink                string      `json:"sink"`
}

func (w wireBlockDAG) convert() (BlockDAG, error) {
	if !w.VirtualDaaScore.set {
		return BlockDAG{}, errors.New("blockdag: missing virtualDaaScore")
	}
	var diff float64
	if w.Difficulty != "" {
		f, err := w.Difficulty.Float64()
		if err != nil {
			return BlockDAG{}, fmt.Errorf("blockdag: bad difficulty: %w", err)
		}
		diff = f
	}
	return BlockDAG{
		NetworkName:         w.NetworkName,
		BlockCount:          w.BlockCount.v,
		HeaderCount:         w.HeaderCount.v,
		TipHashes:           w.TipHashes,
		Difficulty:          diff,
		PastMedianTime:      w.PastMedianTime.v,
		VirtualParentHashes: w.VirtualParentHashes,
		PruningPointHash:    w.PruningPointHash,
		VirtualDaaScore:     w.VirtualDaaScore.v,
		Sink:                w.Sink,
	}, nil
}

type wireTxInput struct {
	Index                   uintJSON `json:"index"`
	PreviousOutpointHash    string   `json:"previous_outpoint_hash"`
	PreviousOutpointIndex   uintJSON `json:"previous_outpoint_index"`
	PreviousOutpointAddress *string  `json:"previous_outpoint_address"`
	PreviousOutpointAmount  uintJSON `json:"previous_outpoint_amount"`
	SignatureScript         *string  `json:"signature_script"`
	SigOpCount              uintJSON `json:"sig_op_count"`
}

type wireTxOutput struct {
	Index                  uintJSON `json:"index"`
	Amount                 uintJSON `json:"amount"`
	ScriptPublicKey        *string  `json:"script_public_key"`
	ScriptPublicKeyAddress *string  `json:"script_public_key_address"`
	ScriptPublicKeyType    *string  `json:"script_public_key_type"`
}

type wireTx struct {
	SubnetworkID            *string        `json:"subnetwork_id"`
	TransactionID           *string        `json:"transaction_id"`
	Hash                    *string        `json:"hash"`
	Mass                    uintJSON       `json:"mass"`
	Payload                 *string        `json:"payload"`
	BlockHash               []string       `json:"block_hash"`
	BlockTime               intJSON        `json:"block_time"`
	Version                 intJSON        `json:"version"`
	IsAccepted              *bool          `json:"is_accepted"`
	AcceptingBlockHash      *string        `json:"accepting_block_hash"`
	AcceptingBlockBlueScore uintJSON       `json:"accepting_block_blue_score"`
	AcceptingBlockTime      intJSON        `json:"accepting_block_time"`
	Inputs                  []wireTxInput  `json:"inputs"`
	Outputs                 []wireTxOutput `json:"outputs"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (w wireTx) convert() (Transaction, error) {
	id := str(w.TransactionID)
	if !isTxID(id) {
		return Transaction{}, fmt.Errorf("transaction: bad transaction_id %.80q", id)
	}
	t := Transaction{
		ID:                 id,
		Hash:               str(w.Hash),
		SubnetworkID:       str(w.SubnetworkID),
		Mass:               w.Mass.v,
		Payload:            str(w.Payload),
		BlockHashes:        w.BlockHash,
		BlockTime:          w.BlockTime.v,
		Version:            int(w.Version.v),
		IsAccepted:         w.IsAccepted != nil && *w.IsAccepted,
		AcceptingBlockHash: str(w.AcceptingBlockHash),
		AcceptingBlockTime: w.AcceptingBlockTime.v,
	}
	if t.IsAccepted && w.AcceptingBlockBlueScore.set {
		bs := w.AcceptingBlockBlueScore.v
		t.AcceptingBlueScore = &bs
	}
	for i, in := range w.Inputs {
		if in.Index.v > 0xFFFFFFFF || in.PreviousOutpointIndex.v > 0xFFFFFFFF || in.SigOpCount.v > 0xFFFFFFFF {
			return Transaction{}, fmt.Errorf("transaction %s: input %d: index out of range", id, i)
		}
		t.Inputs = append(t.Inputs, TxInput{
			Index:                   uint32(in.Index.v),
			PreviousOutpointHash:    in.PreviousOutpointHash,
			PreviousOutpointIndex:   uint32(in.PreviousOutpointIndex.v),
			PreviousOutpointAddress: str(in.PreviousOutpointAddress),
			PreviousOutpointAmount:  in.PreviousOutpointAmount.v,
			SignatureScript:         str(in.SignatureScript),
			SigOpCount:              uint32(in.SigOpCount.v),
		})
	}
	for i, out := range w.Outputs {
		if !out.Amount.set || !out.Index.set || out.Index.v > 0xFFFFFFFF {
			return Transaction{}, fmt.Errorf("transaction %s: output %d: missing amount or index", id, i)
		}
		t.Outputs = append(t.Outputs, TxOutput{
			Index:                  uint32(out.Index.v),
			Amount:                 out.Amount.v,
			ScriptPublicKey:        str(out.ScriptPublicKey),
			ScriptPublicKeyAddress: str(out.ScriptPublicKeyAddress),
			ScriptPublicKeyType:    str(out.ScriptPublicKeyType),
		})
	}
	return t, nil
}

type wireChainBlock struct {
	Hash         string        `json:"hash"`
	BlueScore    uintJSON      `json:"blue_score"`
	DaaScore     uintJSON      `json:"daa_score"`
	Timestamp    intJSON       `json:"timestamp"`
	Transactions []wireChainTx `json:"transactions"`
}

type wireChainTx struct {
	TransactionID string `json:"transaction_id"`
	Outputs       []struct {
		Address *string  `json:"script_public_key_address"`
		Amount  uintJSON `json:"amount"`
	} `json:"outputs"`
}

// convert checks the block lies in the requested window [gte, lt) — a
// server answering another window must not be trusted — and keeps the
// outputs that pay an address (a non-standard script has none).
func (w wireChainBlock) convert(gte, lt uint64) (ChainBlock, error) {
	if !w.BlueScore.set || w.BlueScore.v < gte || w.BlueScore.v >= lt {
		return ChainBlock{}, fmt.Errorf("chain block %.80q: blue_score %d outside the window [%d, %d)", w.Hash, w.BlueScore.v, gte, lt)
	}
	b := ChainBlock{Hash: w.Hash, BlueScore: w.BlueScore.v, DaaScore: w.DaaScore.v, Timestamp: w.Timestamp.v,
		Transactions: make([]ChainTx, 0, len(w.Transactions))}
	for _, wt := range w.Transactions {
		if !isTxID(wt.TransactionID) {
			return ChainBlock{}, fmt.Errorf("chain block %.80q: bad transaction_id %.80q", w.Hash, wt.TransactionID)
		}
		t := ChainTx{ID: wt.TransactionID}
		for i, o := range wt.Outputs {
			if o.Address == nil || *o.Address == "" {
				continue
			}
			if !o.Amount.set || i > 0xFFFFFFFF {
				return ChainBlock{}, fmt.Errorf("transaction %s: output %d: missing amount", wt.TransactionID, i)
			}
			t.Outputs = append(t.Outputs, ChainOutput{Index: uint32(i), Address: *o.Address, Amount: o.Amount.v})
		}
		b.Transactions = append(b.Transactions, t)
	}
	return b, nil
}

// isTxID reports whether s is a 64-character lowercase hex transaction id.
func isTxID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
