// "Pay with browser wallet" on a USDC checkout (EIP-1193). Optional: the
// page shows the address, amount and QR code without it. The button carries
// everything in data attributes (no inline script, CSP-safe): the chain ID
// in hex, the USDC contract, the receiver, the amount in micro-USDC and
// where to report the transaction hash. The report only makes the page say
// "sent, waiting to be mined"; Till credits the payment when its watcher
// sees the Transfer on chain.
(function () {
  "use strict";

  var TRANSFER = "0xa9059cbb"; // transfer(address,uint256)

  // word pads a hex string (no 0x) to 32 bytes.
  function word(hex) {
    if (hex.length > 64) throw new Error("value too large");
    return "0".repeat(64 - hex.length) + hex;
  }

  // transferData encodes transfer(receiver, units) by hand: selector, the
  // address left-padded to 32 bytes, the amount as a 32-byte integer.
  function transferData(receiver, units) {
    var addr = receiver.toLowerCase();
    if (!/^0x[0-9a-f]{40}$/.test(addr)) throw new Error("bad receiver");
    if (!/^[0-9]+$/.test(units)) throw new Error("bad amount");
    return TRANSFER + word(addr.slice(2)) + word(BigInt(units).toString(16));
  }

  function csrfToken() {
    try {
      var h = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return h["X-CSRF-Token"] || "";
    } catch (e) { return ""; }
  }

  function say(btn, text) {
    var out = document.querySelector("[data-wallet-status]");
    if (out) out.textContent = text;
  }

  function report(btn, hash) {
    var body = new URLSearchParams();
    body.set("txHash", hash);
    return fetch(btn.getAttribute("data-tx-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken() },
      body: body
    }).then(function (r) {
      return r.text().then(function (t) { say(btn, r.ok ? t : "Sent (" + hash + "). " + t); });
    });
  }

  function pay(btn) {
    var eth = window.ethereum;
    var chainId = btn.getAttribute("data-chain-id");
    var data;
    try {
      data = transferData(btn.getAttribute("data-receiver"), btn.getAttribute("data-units"));
    } catch (e) {
      say(btn, "This payment cannot be sent from the browser wallet; use your wallet app.");
      return;
    }
    btn.disabled = true;
    var from;
    say(btn, "Confirm in your wallet…");
    eth.request({ method: "eth_requestAccounts" })
      .then(function (accounts) {
        from = accounts && accounts[0];
        if (!from) throw new Error("No account was shared.");
        return eth.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chainId }] });
      })
      .then(function () {
        return eth.request({ method: "eth_sendTransaction", params: [{ from: from, to: btn.getAttribute("data-token"), data: data, value: "0x0" }] });
      })
      .then(function (hash) {
        say(btn, "Sent, waiting to be mined");
        return report(btn, hash);
      })
      .catch(function (err) {
        btn.disabled = false;
        var msg = (err && err.message) || String(err);
        if (err && err.code === 4902) msg = "Your wallet does not know " + btn.getAttribute("data-network") + ". Add it to your wallet first.";
        if (err && err.code === 4001) msg = "Cancelled in the wallet.";
        say(btn, msg);
      });
  }

  function setup(root) {
    if (!window.ethereum || typeof BigInt === "undefined") return;
    // The button sits in a hidden box (a .btn's display would override its
    // own hidden attribute): shown only when a wallet is there.
    (root || document).querySelectorAll("[data-evm-pay-box]").forEach(function (b) { b.hidden = false; });
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-evm-pay]");
    if (btn && window.ethereum) pay(btn);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setup(document); });
  } else {
    setup(document);
  }
  document.addEventListener("htmx:afterSettle", function () { setup(document); });
})();
