// A feed-forward network: layers in sequence, validated and compiled once when built.
//
// Compilation turns the (possibly nested) layer list into a flat list of operations on numbered
// workspace "slots", one slot per intermediate vector, so that forward is a loop over the
// operations and the pullback the same loop reversed, with no recursion, closures or allocation at
// evaluation time. Slot 0 holds the input, the last slot the output. A batch of `b` columns puts
// slot `s` at a `width(s) x b` column-major block, so BLAS sees every layer's input as one matrix.

/// Where one named parameter block sits in the flat parameter vector.
///
/// Weights are stored column-major (`offset + i + j * rows` holds entry (i, j) of the
/// `rows x columns` matrix), biases as a `rows x 1` block. Names follow Lux: `layer_2.weight`,
/// `layer_2.bias`, with `layer_3.layer_1.weight` inside a skip connection and
/// `layer_3.branch_2.layer_1.weight` inside a `Parallel` layer (1-based, as Lux prints them).
public struct ParameterView: Sendable, Hashable, Codable {
    public let name: String
    public let offset: Int
    public let rows: Int
    public let columns: Int
    /// Number of entries, `rows * columns`.
    public var count: Int { rows * columns }
    /// The indices of the block in the flat vector.
    public var range: Range<Int> { offset..<(offset + count) }
}

/// One step of the compiled network.
@usableFromInline
internal enum _Operation<Scalar: NetworkScalar>: Sendable {
    /// `output = activation(pre)`, `pre = W input + b`; `pre == output` for the identity.
    case dense(_DenseOperation)
    case elementwise(input: Int, output: Int, count: Int, function: ElementwiseFunction<Scalar>)
    /// `output = a + b`.
    case add(Int, Int, output: Int, count: Int)
    /// Rows `rowOffset ..< rowOffset + count` of `output` (which has `outputCount` rows) = input.
    case place(input: Int, output: Int, count: Int, rowOffset: Int, outputCount: Int)
}

@usableFromInline
internal struct _DenseOperation: Sendable {
    @usableFromInline let input: Int
    @usableFromInline let output: Int
    @usableFromInline let pre: Int
    @usableFromInline let inputCount: Int
    @usableFromInline let outputCount: Int
    @usableFromInline let activation: Activation
    @usableFromInline let weightOffset: Int
    /// -1 when the layer has no bias.
    @usableFromInline let biasOffset: Int
}

/// A network: layers applied in sequence, with all parameters in one flat vector.
///
/// ```swift
/// let model = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
/// var p = model.initialParameters(seed: 0)          // 252 Glorot-uniform weights, zero biases
/// var ws = model.makeWorkspace()
/// var y = [Double](repeating: 0, count: 2)
/// try model.forward([2, 0], parameters: p, workspace: &ws, into: &y)
/// ```
///
/// Building the chain validates every size (layers that do not chain, non-positive sizes) and
/// throws ``NetworkError`` before any work; evaluation then checks only operand lengths.
/// The parameters are not stored in the chain: a ``Chain`` is an immutable, `Sendable`
/// description, and one vector of parameters is what an optimizer or an adjoint sees.
public struct Chain<Scalar: NetworkScalar>: Sendable {
    /// Entries of one input vector.
    public let inputCount: Int
    /// Entries of one output vector.
    public let outputCount: Int
    /// Length of the flat parameter vector.
    public let parameterCount: Int
    /// Every named parameter block, in storage order.
    public let parameterViews: [ParameterView]

    @usableFromInline internal let operations: [_Operation<Scalar>]
    @usableFromInline internal let slotWidths: [Int]
    /// Per-column start of each slot: slot `s` of a batch with capacity `c` starts at
    /// `slotStarts[s] * c`.
    @usableFromInline internal let slotStarts: [Int]
    @usableFromInline internal let totalWidth: Int
    @usableFromInline internal let initializers: [(Initializer, fanIn: Int, fanOut: Int)]

    /// Builds a network from its layers; the input size is inferred from the first layer that
    /// fixes one (elementwise layers keep the size) unless `inputCount` is given.
    public init(_ layers: Layer<Scalar>..., inputCount: Int? = nil) throws(NetworkError) {
        try self.init(layers: layers, inputCount: inputCount)
    }

    /// Builds a network from an array of layers.
    public init(layers: [Layer<Scalar>], inputCount: Int? = nil) throws(NetworkError) {
        guard !layers.isEmpty else { throw .emptyLayer(layer: "chain") }
        let inferred = Self.requiredInput(layers)
        let width: Int
        if let inputCount {
            guard inputCount > 0 else { throw .invalidSize(what: "inputCount", value: inputCount) }
            if let inferred, inferred > 0, inferred != inputCount {
                throw .sizesDoNotChain(layer: "the first sized layer", expected: inferred, got: inputCount)
            }
            width = inputCount
        } else {
            guard let inferred else { throw .unknownInputSize }
            guard inferred > 0 else { throw .invalidSize(what: "layer input count", value: inferred) }
            width = inferred
        }
        var builder = _Builder<Scalar>()
        builder.slotWidths.append(width)
        let (outputSlot, outputWidth) = try builder.compile(layers, input: 0, width: width, prefix: "")
        // The output must be the last slot, and a distinct one from the input, so that forward
        // can copy x in and y out without aliasing.
        if outputSlot != builder.slotWidths.count - 1 || outputSlot == 0 {
            let copy = builder.newSlot(outputWidth)
            builder.operations.append(
                .elementwise(
                    input: outputSlot, output: copy, count: outputWidth, function: .activation(.identity)))
        }
        self.inputCount = width
        outputCount = outputWidth
        parameterCount = builder.parameterCount
        parameterViews = builder.views
        operations = builder.operations
        slotWidths = builder.slotWidths
        var starts: [Int] = []
        var total = 0
        for w in builder.slotWidths {
            starts.append(total)
            total += w
        }
        slotStarts = starts
        totalWidth = total
        initializers = builder.initializers
    }

    /// The input size the layers require, if one of them fixes it before the size is lost.
    private static func requiredInput(_ layers: [Layer<Scalar>]) -> Int? {
        for layer in layers {
            switch layer.kind {
            case .dense(let input, _, _, _, _, _): return input
            case .elementwise: continue
            case .skip(let body):
                if let size = requiredInput(body) { return size }
            case .parallel(_, let branches):
                for branch in branches {
                    if let size = requiredInput(branch) { return size }
                }
                return nil
            }
        }
        return nil
    }

    /// The view with this name.
    public func view(named name: String) throws(NetworkError) -> ParameterView {
        guard let view = parameterViews.first(where: { $0.name == name }) else { throw .unknownParameter(name) }
        return view
    }
}

/// Accumulates slots, operations and parameter views while a chain is compiled.
internal struct _Builder<Scalar: NetworkScalar> {
    var operations: [_Operation<Scalar>] = []
    var slotWidths: [Int] = []
    var views: [ParameterView] = []
    var initializers: [(Initializer, fanIn: Int, fanOut: Int)] = []
    var parameterCount = 0

    mutating func newSlot(_ width: Int) -> Int {
        slotWidths.append(width)
        return slotWidths.count - 1
    }

    mutating func addView(_ name: String, rows: Int, columns: Int, initializer: Initializer, fanIn: Int, fanOut: Int)
        -> Int
    {
        let offset = parameterCount
        views.append(ParameterView(name: name, offset: offset, rows: rows, columns: columns))
        initializers.append((initializer, fanIn, fanOut))
        parameterCount += rows * columns
        return offset
    }

    /// Compiles `layers` reading slot `input` of `width` entries; returns the output slot and width.
    mutating func compile(
        _ layers: [Layer<Scalar>], input: Int, width: Int, prefix: String
    ) throws(NetworkError) -> (Int, Int) {
        var slot = input
        var current = width
        for (index, layer) in layers.enumerated() {
            let name = "\(prefix)layer_\(index + 1)"
            switch layer.kind {
            case .dense(let inputCount, let outputCount, let activation, let hasBias, let weightInit, let biasInit):
                // BLAS takes 32-bit sizes.
                guard inputCount > 0, inputCount <= Int(Int32.max) else {
                    throw .invalidSize(what: "\(name) input count", value: inputCount)
                }
                guard outputCount > 0, outputCount <= Int(Int32.max) else {
                    throw .invalidSize(what: "\(name) output count", value: outputCount)
                }
                guard inputCount == current else {
                    throw .sizesDoNotChain(layer: name, expected: inputCount, got: current)
                }
                let weight = addView(
                    "\(name).weight", rows: outputCount, columns: inputCount, initializer: weightInit,
                    fanIn: inputCount, fanOut: outputCount)
                let bias =
                    hasBias
                    ? addView(
                        "\(name).bias", rows: outputCount, columns: 1, initializer: biasInit,
                        fanIn: inputCount, fanOut: outputCount)
                    : -1
                let pre = newSlot(outputCount)
                let output = activation == .identity ? pre : newSlot(outputCount)
                operations.append(
                    .dense(
                        _DenseOperation(
                            input: slot, output: output, pre: pre, inputCount: inputCount, outputCount: outputCount,
                            activation: activation, weightOffset: weight, biasOffset: bias)))
                slot = output
                current = outputCount
            case .elementwise(let function):
                if case .power(let n) = function, n < 1 { throw .invalidExponent(n) }
                let output = newSlot(current)
                operations.append(.elementwise(input: slot, output: output, count: current, function: function))
                slot = output
            case .skip(let body):
                guard !body.isEmpty else { throw .emptyLayer(layer: name) }
                let (bodySlot, bodyWidth) = try compile(body, input: slot, width: current, prefix: "\(name).")
                guard bodyWidth == current else {
                    throw .skipChangesSize(layer: name, input: current, output: bodyWidth)
                }
                let output = newSlot(current)
                operations.append(.add(slot, bodySlot, output: output, count: current))
                slot = output
            case .parallel(let combination, let branches):
                guard !branches.isEmpty else { throw .emptyLayer(layer: name) }
                var outputs: [(Int, Int)] = []
                for (b, branch) in branches.enumerated() {
                    guard !branch.isEmpty else { throw .emptyLayer(layer: "\(name).branch_\(b + 1)") }
                    outputs.append(try compile(branch, input: slot, width: current, prefix: "\(name).branch_\(b + 1)."))
                }
                switch combination {
                case .add:
                    let sizes = outputs.map(\.1)
                    guard sizes.allSatisfy({ $0 == sizes[0] }) else {
                        throw .branchSizesDiffer(layer: name, sizes: sizes)
                    }
                    var sum = outputs[0].0
                    for (branchSlot, _) in outputs.dropFirst() {
                        let output = newSlot(sizes[0])
                        operations.append(.add(sum, branchSlot, output: output, count: sizes[0]))
                        sum = output
                    }
                    if outputs.count == 1 {
                        let output = newSlot(sizes[0])
                        operations.append(
                            .elementwise(
                                input: sum, output: output, count: sizes[0], function: .activation(.identity)))
                        sum = output
                    }
                    slot = sum
                    current = sizes[0]
                case .concatenate:
                    let total = outputs.reduce(0) { $0 + $1.1 }
                    let output = newSlot(total)
                    var row = 0
                    for (branchSlot, branchWidth) in outputs {
                        operations.append(
                            .place(
                                input: branchSlot, output: output, count: branchWidth, rowOffset: row,
                                outputCount: total))
                        row += branchWidth
                    }
                    slot = output
                    current = total
                }
            }
        }
        return (slot, current)
    }
}
