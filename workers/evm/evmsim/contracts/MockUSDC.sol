// SPDX-License-Identifier: MIT
// Test tokens for Till's simulated EVM chain (workers/evm/evmsim). Never deployed anywhere real.
pragma solidity 0.8.28;

/// MockUSDC is a 6-decimal ERC-20 standing in for USDC. Anyone may mint: it exists only in tests.
contract MockUSDC {
    string public constant name = "USD Coin";
    string public constant symbol = "USDC";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 a = allowance[from][msg.sender];
        if (a != type(uint256).max) {
            require(a >= amount, "ERC20: insufficient allowance");
            allowance[from][msg.sender] = a - amount;
        }
        _transfer(from, to, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) internal {
        require(to != address(0), "ERC20: transfer to zero");
        uint256 b = balanceOf[from];
        require(b >= amount, "ERC20: transfer amount exceeds balance");
        unchecked {
            balanceOf[from] = b - amount;
        }
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

/// MockERC721Emitter emits an ERC-721-shaped Transfer: the same topic0 as ERC-20's, but with the token id
/// indexed (4 topics, empty data). A watcher must not read it as a token transfer.
contract MockERC721Emitter {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function emitTransfer(address from, address to, uint256 tokenId) external {
        emit Transfer(from, to, tokenId);
    }
}
