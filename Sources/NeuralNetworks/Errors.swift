// Typed errors of the module. Every public entry point checks sizes, names and hyperparameters
// first and throws one of these before any arithmetic, so bad input never reaches BLAS.

/// Why a network could not be built, evaluated or differentiated with the given input.
public enum NetworkError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A layer size is not positive (`what` names it, e.g. `"layer_2 output count"`).
    case invalidSize(what: String, value: Int)
    /// A layer expects an input of `expected` entries but the previous layer gives `got`.
    case sizesDoNotChain(layer: String, expected: Int, got: Int)
    /// No layer fixes the network's input size (only elementwise layers): pass `inputCount`.
    case unknownInputSize
    /// A skip connection's body maps `input` entries to `output`; it must preserve the size.
    case skipChangesSize(layer: String, input: Int, output: Int)
    /// The branches of a `Parallel` layer combined by addition give different sizes.
    case branchSizesDiffer(layer: String, sizes: [Int])
    /// A layer with no sublayers (an empty skip body or a `Parallel` with no branch).
    case emptyLayer(layer: String)
    /// An elementwise power with an exponent below 1.
    case invalidExponent(Int)
    /// An operand has the wrong size (`what` names it, e.g. `"x.count"`).
    case dimensionMismatch(what: String, expected: Int, got: Int)
    /// A batch has more columns than the workspace was made for.
    case batchTooLarge(capacity: Int, got: Int)
    /// The workspace was made by a different network.
    case workspaceMismatch
    /// `pullback` was called before any `forward` with this workspace.
    case noForwardPass
    /// No parameter view has this name (see ``Chain/parameterViews``).
    case unknownParameter(String)
    /// Nested row arrays do not all have the same length.
    case raggedRows(what: String, row: Int, expected: Int, got: Int)
    /// A parameter is NaN or infinite where a finite one is required (JSON cannot hold it).
    case nonFinite(what: String, index: Int)
    /// A saved parameter file does not describe this network.
    case parameterFileMismatch(String)
    /// Reading or decoding a parameter file failed (the underlying message).
    case io(String)

    public var description: String {
        switch self {
        case .invalidSize(let what, let value): return "\(what) must be positive, got \(value)"
        case .sizesDoNotChain(let layer, let expected, let got):
            return "\(layer) takes \(expected) inputs but receives \(got) from the layer before it"
        case .unknownInputSize:
            return "the input size cannot be inferred (no Dense layer); pass inputCount"
        case .skipChangesSize(let layer, let input, let output):
            return "the skip connection \(layer) maps \(input) entries to \(output); it must keep the size"
        case .branchSizesDiffer(let layer, let sizes):
            return "the branches of \(layer) give sizes \(sizes); addition needs equal sizes"
        case .emptyLayer(let layer): return "\(layer) has no sublayers"
        case .invalidExponent(let n): return "an elementwise power needs an exponent >= 1, got \(n)"
        case .dimensionMismatch(let what, let expected, let got): return "\(what) is \(got), expected \(expected)"
        case .batchTooLarge(let capacity, let got):
            return "the batch has \(got) columns but the workspace holds at most \(capacity)"
        case .workspaceMismatch: return "the workspace was made for a different network"
        case .noForwardPass: return "pullback needs a forward pass with the same workspace first"
        case .unknownParameter(let name): return "no parameter view named \(name)"
        case .raggedRows(let what, let row, let expected, let got):
            return "\(what): row \(row) has \(got) entries, expected \(expected)"
        case .nonFinite(let what, let index): return "\(what)[\(index)] is not finite"
        case .parameterFileMismatch(let reason): return "the parameter file does not fit this network: \(reason)"
        case .io(let message): return "parameter file: \(message)"
        }
    }
}

/// Why an optimizer or a training run refused its input.
public enum OptimizationError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A hyperparameter is out of its range (`requirement` says which range).
    case invalidHyperparameter(name: String, value: Double, requirement: String)
    /// The gradient, or a buffer, does not have the parameter vector's length.
    case dimensionMismatch(what: String, expected: Int, got: Int)
    /// The parameter vector is empty.
    case emptyParameters
    /// An input that must be finite (initial parameters, training data) is NaN or infinite.
    case nonFiniteInput(what: String, index: Int)

    public var description: String {
        switch self {
        case .invalidHyperparameter(let name, let value, let requirement):
            return "\(name) = \(value) is invalid: it must be \(requirement)"
        case .dimensionMismatch(let what, let expected, let got): return "\(what) is \(got), expected \(expected)"
        case .emptyParameters: return "there are no parameters to optimize"
        case .nonFiniteInput(let what, let index): return "\(what)[\(index)] is not finite"
        }
    }
}
