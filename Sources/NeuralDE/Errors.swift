// Typed errors of the neural-DE layer: every check runs before any solve.

public import DelayDE
public import DiffEqCore
public import NeuralNetworks
public import Sensitivity

/// Why a neural-DE solve or gradient could not be computed.
public enum NeuralDEError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The network is not usable as a right-hand side (its input and output sizes differ, or
    /// it has a layer that cannot run on dual numbers and on the reverse-mode tape).
    case unsupportedNetwork(String)
    /// A vector has the wrong length (`what` names it).
    case wrongLength(what: String, expected: Int, got: Int)
    /// A NaN or infinite entry in an input (`what` names it, `index` is the first bad entry).
    case nonFinite(what: String, index: Int)
    /// The problem or options are invalid.
    case invalidInput(DiffEqError)
    /// The forward solve did not reach its end.
    case solveFailed(retcode: ReturnCode, message: String?)
    /// The gradient failed (see ``SensitivityError``).
    case sensitivity(SensitivityError)
    /// A network evaluation failed.
    case network(NetworkError)
    /// A neural delay equation's problem (a lag that is not positive and finite, ...) or its
    /// gradient (``NeuralCDDE``).
    case delay(DDEGradientError)

    public var description: String {
        switch self {
        case .unsupportedNetwork(let why): return "the network cannot be an ODE right-hand side: \(why)"
        case .wrongLength(let what, let expected, let got): return "\(what) has \(got) entries, expected \(expected)"
        case .nonFinite(let what, let index): return "\(what)[\(index)] is not finite"
        case .invalidInput(let e): return "invalid input: \(e)"
        case .solveFailed(let code, let message):
            return "the forward solve stopped with \(code)" + (message.map { ": \($0)" } ?? "")
        case .sensitivity(let e): return "gradient: \(e)"
        case .network(let e): return "network: \(e)"
        case .delay(let e): return "delay equation: \(e)"
        }
    }
}

/// Throws ``NeuralDEError/nonFinite(what:index:)`` at the first NaN or infinite entry.
@inlinable
func _requireFinite(_ x: [Double], _ what: String) throws(NeuralDEError) {
    if let k = x.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(what: what, index: k) }
}

@inlinable
func _requireLength(_ x: [Double], _ n: Int, _ what: String) throws(NeuralDEError) {
    try _requireLength(x.count, n, what)
}

@inlinable
func _requireLength(_ count: Int, _ n: Int, _ what: String) throws(NeuralDEError) {
    guard count == n else { throw .wrongLength(what: what, expected: n, got: count) }
}
