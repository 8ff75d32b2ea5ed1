/// How the diffusion `g` drives the state, and how many Wiener processes there are.
///
/// With `n` states the diffusion writes:
/// - ``diagonal``: `n` values, `du_i = … + g_i(u, p, t) dW_i`, `m = n` independent processes;
/// - ``scalar``: `n` values, `du_i = … + g_i(u, p, t) dW`, one process (`m = 1`);
/// - ``additive``: as ``diagonal``, but `g` does not depend on `u` (it may depend on `t` and `p`);
///   the additive methods (``SRA1``, ``SOSRA``) need it, and setup checks it at the initial point;
/// - ``general(wienerProcesses:)``: the `n × m` noise-rate matrix, column-major
///   (`g[i + j·n]` multiplies `dW_j` in `du_i`).
public enum NoiseKind: Sendable, Hashable, CustomStringConvertible {
    case diagonal
    case scalar
    case additive
    case general(wienerProcesses: Int)

    /// Number of Wiener processes `m` for `n` states.
    @inlinable
    public func wienerCount(states n: Int) -> Int {
        switch self {
        case .diagonal, .additive: return n
        case .scalar: return 1
        case .general(let m): return m
        }
    }

    /// Length of the diffusion's output for `n` states.
    @inlinable
    public func diffusionLength(states n: Int) -> Int {
        switch self {
        case .diagonal, .additive, .scalar: return n
        case .general(let m): return n * m
        }
    }

    public var description: String {
        switch self {
        case .diagonal: return "diagonal"
        case .scalar: return "scalar"
        case .additive: return "additive"
        case .general(let m): return "general (\(m) Wiener processes)"
        }
    }
}

/// The stochastic calculus a method solves in. Itô and Stratonovich solutions of the same `f`,
/// `g` differ by the drift correction `½ Σ_j (∂g_·j/∂u) g_·j` unless `g` is additive.
public enum SDEInterpretation: Sendable, Hashable {
    case ito
    case stratonovich
}
