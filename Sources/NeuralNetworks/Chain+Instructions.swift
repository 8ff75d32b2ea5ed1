// A read-only view of a compiled chain, for code that evaluates the network in its own
// arithmetic: the NeuralDE module runs it on dual numbers and on the reverse-mode tape (forward
// sensitivities, stiff Jacobians, and independent checks of the hand-written pullbacks).

/// One operation of a compiled ``Chain`` on numbered slots (slot 0 is the input, slot
/// ``Chain/slotSizes``.count - 1 the output; each slot holds one vector of the given size).
public enum NetworkInstruction: Sendable {
    /// `output = activation(W input + b)` with `W` (`outputCount x inputCount`, column-major) at
    /// `weightOffset` in the flat parameters and `b` at `biasOffset` (`nil`: no bias).
    case dense(
        input: Int, output: Int, inputCount: Int, outputCount: Int, activation: Activation, weightOffset: Int,
        biasOffset: Int?)
    /// `output = activation(input)` entrywise.
    case activation(input: Int, output: Int, count: Int, Activation)
    /// `output = input^exponent` entrywise.
    case power(input: Int, output: Int, count: Int, exponent: Int)
    /// A user function (``ElementwiseFunction/custom(name:function:derivative:)``), which exists
    /// only for the chain's own scalar.
    case custom(input: Int, output: Int, count: Int, name: String)
    /// `output = a + b`.
    case add(Int, Int, output: Int, count: Int)
    /// Rows `rowOffset ..< rowOffset + count` of `output` (of size `outputCount`) = `input`.
    case place(input: Int, output: Int, count: Int, rowOffset: Int, outputCount: Int)
}

extension Chain {
    /// The size of every slot the instructions read and write.
    public var slotSizes: [Int] { slotWidths }

    /// Where each slot starts when all of them lie one after another in one buffer (the
    /// running sums of ``slotSizes``), and that buffer's size: the layout the chain's own
    /// workspace uses.
    public var slotOffsets: (starts: [Int], total: Int) { (slotStarts, totalWidth) }

    /// The compiled operations in evaluation order.
    public var instructions: [NetworkInstruction] {
        operations.map { operation in
            switch operation {
            case .dense(let d):
                return .dense(
                    input: d.input, output: d.output, inputCount: d.inputCount, outputCount: d.outputCount,
                    activation: d.activation, weightOffset: d.weightOffset,
                    biasOffset: d.biasOffset >= 0 ? d.biasOffset : nil)
            case .elementwise(let input, let output, let count, let function):
                switch function {
                case .activation(let a): return .activation(input: input, output: output, count: count, a)
                case .power(let k): return .power(input: input, output: output, count: count, exponent: k)
                case .custom(let name, _, _): return .custom(input: input, output: output, count: count, name: name)
                }
            case .add(let a, let b, let output, let count): return .add(a, b, output: output, count: count)
            case .place(let input, let output, let count, let rowOffset, let outputCount):
                return .place(input: input, output: output, count: count, rowOffset: rowOffset, outputCount: outputCount)
            }
        }
    }
}
