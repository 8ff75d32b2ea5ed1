// Forward pass and hand-written pullback (vector-Jacobian product) through BLAS.
//
// For a Dense layer Z = W X + b 1ᵀ, Y = σ(Z) on a batch X (one column per sample), the pullback
// of a cotangent dY is
//   dZ = dY ⊙ σ'(Z),   dW += dZ Xᵀ,   db += dZ 1,   dX += Wᵀ dZ,
// so one gemm per product (gemv for a single column, and a loop for its outer product dZ Xᵀ). Every BLAS call here uses beta = 1 on a
// buffer this code has just filled (bias, or zeros), never beta = 0 on stale contents: some
// OpenBLAS versions scale by beta instead of overwriting, and 0 * NaN would leak a stale NaN.

public import DenseLinearAlgebra

extension Chain {
    // MARK: Public entry points

    /// `y = f(x)` for one input vector. Does not allocate (with a workspace from this chain and
    /// arrays that are not shared).
    @inlinable
    public func forward(
        _ x: [Scalar], parameters: [Scalar], workspace: inout NetworkWorkspace<Scalar>, into y: inout [Scalar]
    ) throws(NetworkError) {
        try _check(inputRows: x.count, columns: 1, parameters: parameters.count, workspace: workspace)
        guard y.count == outputCount else {
            throw .dimensionMismatch(what: "y.count", expected: outputCount, got: y.count)
        }
        x.withUnsafeBufferPointer { xs in
            parameters.withUnsafeBufferPointer { ps in
                y.withUnsafeMutableBufferPointer { ys in
                    _forward(xs, ps, &workspace, columns: 1, into: ys)
                }
            }
        }
    }

    /// `Y = f(X)` column by column for a batch `X` (`inputCount x b`, `b <= capacity`), through
    /// gemm. `y` must be `outputCount x b`. Does not allocate.
    @inlinable
    public func forward(
        batch x: Matrix<Scalar>, parameters: [Scalar], workspace: inout NetworkWorkspace<Scalar>,
        into y: inout Matrix<Scalar>
    ) throws(NetworkError) {
        guard x.rows == inputCount else { throw .dimensionMismatch(what: "x.rows", expected: inputCount, got: x.rows) }
        try _check(inputRows: x.rows, columns: x.columns, parameters: parameters.count, workspace: workspace)
        guard y.rows == outputCount else {
            throw .dimensionMismatch(what: "y.rows", expected: outputCount, got: y.rows)
        }
        guard y.columns == x.columns else {
            throw .dimensionMismatch(what: "y.columns", expected: x.columns, got: y.columns)
        }
        x.withUnsafeBufferPointer { xs in
            parameters.withUnsafeBufferPointer { ps in
                y.withUnsafeMutableBufferPointer { ys in
                    _forward(xs, ps, &workspace, columns: x.columns, into: ys)
                }
            }
        }
    }

    /// The forward pass on raw buffers (for callers that keep their states in their own
    /// storage, such as an ODE right-hand side). `x.count` must be `inputCount * columns`,
    /// `y.count` `outputCount * columns`, both column-major.
    @inlinable
    public func forward(
        _ x: UnsafeBufferPointer<Scalar>, parameters: UnsafeBufferPointer<Scalar>, columns: Int = 1,
        workspace: inout NetworkWorkspace<Scalar>, into y: UnsafeMutableBufferPointer<Scalar>
    ) throws(NetworkError) {
        guard columns > 0 else { throw .invalidSize(what: "columns", value: columns) }
        guard x.count == inputCount * columns else {
            throw .dimensionMismatch(what: "x.count", expected: inputCount * columns, got: x.count)
        }
        try _check(inputRows: inputCount, columns: columns, parameters: parameters.count, workspace: workspace)
        guard y.count == outputCount * columns else {
            throw .dimensionMismatch(what: "y.count", expected: outputCount * columns, got: y.count)
        }
        _forward(x, parameters, &workspace, columns: columns, into: y)
    }

    /// A new output vector (allocates; for exploration, not for loops).
    public func callAsFunction(_ x: [Scalar], parameters: [Scalar]) throws(NetworkError) -> [Scalar] {
        var workspace = makeWorkspace()
        var y = [Scalar](repeating: 0, count: outputCount)
        try forward(x, parameters: parameters, workspace: &workspace, into: &y)
        return y
    }

    /// The vector-Jacobian products of the latest `forward` with this workspace: given
    /// `dy = ∂L/∂y`, writes `∂L/∂x` into `inputGradient` and `∂L/∂p` into `parameterGradient`
    /// (added to their contents when `accumulate`, so a caller can sum over time points without
    /// a temporary). `parameters` must be the ones the forward pass used. Does not allocate.
    @inlinable
    public func pullback(
        _ dy: [Scalar], parameters: [Scalar], workspace: inout NetworkWorkspace<Scalar>,
        inputGradient: inout [Scalar], parameterGradient: inout [Scalar], accumulate: Bool = false
    ) throws(NetworkError) {
        try _checkPullback(
            outputs: dy.count, columns: 1, parameters: parameters.count, parameterGradient: parameterGradient.count,
            workspace: workspace)
        guard inputGradient.count == inputCount else {
            throw .dimensionMismatch(what: "inputGradient.count", expected: inputCount, got: inputGradient.count)
        }
        dy.withUnsafeBufferPointer { dys in
            parameters.withUnsafeBufferPointer { ps in
                inputGradient.withUnsafeMutableBufferPointer { dxs in
                    parameterGradient.withUnsafeMutableBufferPointer { dps in
                        _pullback(
                            dys, ps, &workspace, columns: 1, inputGradient: dxs, parameterGradient: dps,
                            accumulate: accumulate)
                    }
                }
            }
        }
    }

    /// The batch pullback: `dy` is `outputCount x b` for the `b` columns of the latest batch
    /// forward, `inputGradient` `inputCount x b`; `parameterGradient` receives the sum over the
    /// columns. Does not allocate.
    @inlinable
    public func pullback(
        batch dy: Matrix<Scalar>, parameters: [Scalar], workspace: inout NetworkWorkspace<Scalar>,
        inputGradient: inout Matrix<Scalar>, parameterGradient: inout [Scalar], accumulate: Bool = false
    ) throws(NetworkError) {
        guard dy.rows == outputCount else {
            throw .dimensionMismatch(what: "dy.rows", expected: outputCount, got: dy.rows)
        }
        try _checkPullback(
            outputs: dy.count, columns: dy.columns, parameters: parameters.count,
            parameterGradient: parameterGradient.count, workspace: workspace)
        guard inputGradient.rows == inputCount, inputGradient.columns == dy.columns else {
            throw .dimensionMismatch(
                what: "inputGradient.count", expected: inputCount * dy.columns, got: inputGradient.count)
        }
        dy.withUnsafeBufferPointer { dys in
            parameters.withUnsafeBufferPointer { ps in
                inputGradient.withUnsafeMutableBufferPointer { dxs in
                    parameterGradient.withUnsafeMutableBufferPointer { dps in
                        _pullback(
                            dys, ps, &workspace, columns: dy.columns, inputGradient: dxs, parameterGradient: dps,
                            accumulate: accumulate)
                    }
                }
            }
        }
    }

    /// The pullback on raw buffers (see the buffer form of `forward`).
    @inlinable
    public func pullback(
        _ dy: UnsafeBufferPointer<Scalar>, parameters: UnsafeBufferPointer<Scalar>,
        workspace: inout NetworkWorkspace<Scalar>, inputGradient: UnsafeMutableBufferPointer<Scalar>,
        parameterGradient: UnsafeMutableBufferPointer<Scalar>, accumulate: Bool = false
    ) throws(NetworkError) {
        let columns = workspace.columns
        try _checkPullback(
            outputs: dy.count, columns: columns, parameters: parameters.count,
            parameterGradient: parameterGradient.count, workspace: workspace)
        guard inputGradient.count == inputCount * columns else {
            throw .dimensionMismatch(
                what: "inputGradient.count", expected: inputCount * columns, got: inputGradient.count)
        }
        _pullback(
            dy, parameters, &workspace, columns: columns, inputGradient: inputGradient,
            parameterGradient: parameterGradient, accumulate: accumulate)
    }

    // MARK: Checks (all before any work)

    @inlinable
    internal func _check(
        inputRows: Int, columns: Int, parameters: Int, workspace: NetworkWorkspace<Scalar>
    ) throws(NetworkError) {
        guard inputRows == inputCount else {
            throw .dimensionMismatch(what: "x.count", expected: inputCount, got: inputRows)
        }
        guard parameters == parameterCount else {
            throw .dimensionMismatch(what: "parameters.count", expected: parameterCount, got: parameters)
        }
        guard workspace.totalWidth == totalWidth else { throw .workspaceMismatch }
        guard columns > 0 else { throw .invalidSize(what: "batch columns", value: columns) }
        guard columns <= workspace.capacity else { throw .batchTooLarge(capacity: workspace.capacity, got: columns) }
    }

    @inlinable
    internal func _checkPullback(
        outputs: Int, columns: Int, parameters: Int, parameterGradient: Int, workspace: NetworkWorkspace<Scalar>
    ) throws(NetworkError) {
        guard workspace.totalWidth == totalWidth else { throw .workspaceMismatch }
        guard workspace.columns > 0 else { throw .noForwardPass }
        guard columns == workspace.columns else {
            throw .dimensionMismatch(
                what: "batch columns (of the forward pass)", expected: workspace.columns, got: columns)
        }
        guard outputs == outputCount * columns else {
            throw .dimensionMismatch(what: "dy.count", expected: outputCount * columns, got: outputs)
        }
        guard parameters == parameterCount else {
            throw .dimensionMismatch(what: "parameters.count", expected: parameterCount, got: parameters)
        }
        guard parameterGradient == parameterCount else {
            throw .dimensionMismatch(what: "parameterGradient.count", expected: parameterCount, got: parameterGradient)
        }
    }

    // MARK: Kernels (sizes already checked)

    @inlinable
    internal func _forward(
        _ x: UnsafeBufferPointer<Scalar>, _ parameters: UnsafeBufferPointer<Scalar>,
        _ workspace: inout NetworkWorkspace<Scalar>, columns b: Int, into y: UnsafeMutableBufferPointer<Scalar>
    ) {
        let capacity = workspace.capacity
        workspace.columns = b
        workspace.values.withUnsafeMutableBufferPointer { valueBuffer in
            // The value, input and output buffers are non-empty (all sizes are positive), so
            // their base addresses exist. The parameters may be empty (a chain of elementwise
            // layers); a dense operation implies parameterCount > 0 and so a base address.
            let v = valueBuffer.baseAddress!
            let p = parameters.baseAddress
            v.update(from: x.baseAddress!, count: inputCount * b)
            for operation in operations {
                switch operation {
                case .dense(let d):
                    let p = p!
                    let xs = UnsafePointer(v + slotStarts[d.input] * capacity)
                    let z = v + slotStarts[d.pre] * capacity
                    let n = d.outputCount
                    if d.biasOffset >= 0 {
                        for j in 0..<b { (z + j * n).update(from: p + d.biasOffset, count: n) }
                    } else {
                        z.update(repeating: 0, count: n * b)
                    }
                    if b == 1 {
                        Scalar._gemv(
                            transposed: false, rows: Int32(n), columns: Int32(d.inputCount), alpha: 1,
                            p + d.weightOffset, leadingDimension: Int32(n), xs, beta: 1, z)
                    } else {
                        Scalar._gemm(
                            transposeA: false, transposeB: false, m: Int32(n), n: Int32(b), k: Int32(d.inputCount),
                            alpha: 1, p + d.weightOffset, leadingDimensionA: Int32(n),
                            xs, leadingDimensionB: Int32(d.inputCount), beta: 1, z, leadingDimensionC: Int32(n))
                    }
                    if d.pre != d.output {
                        let out = v + slotStarts[d.output] * capacity
                        d.activation._apply(z, into: out, count: n * b)
                    }
                case .elementwise(let input, let output, let count, let function):
                    let xs = v + slotStarts[input] * capacity
                    let out = v + slotStarts[output] * capacity
                    for k in 0..<(count * b) { out[k] = function.value(xs[k]) }
                case .add(let a, let c, let output, let count):
                    let xa = v + slotStarts[a] * capacity
                    let xc = v + slotStarts[c] * capacity
                    let out = v + slotStarts[output] * capacity
                    for k in 0..<(count * b) { out[k] = xa[k] + xc[k] }
                case .place(let input, let output, let count, let rowOffset, let outputCount):
                    let xs = v + slotStarts[input] * capacity
                    let out = v + slotStarts[output] * capacity
                    for j in 0..<b {
                        (out + rowOffset + j * outputCount).update(from: xs + j * count, count: count)
                    }
                }
            }
            let last = slotStarts[slotStarts.count - 1] * capacity
            y.baseAddress!.update(from: v + last, count: outputCount * b)
        }
    }

    @inlinable
    internal func _pullback(
        _ dy: UnsafeBufferPointer<Scalar>, _ parameters: UnsafeBufferPointer<Scalar>,
        _ workspace: inout NetworkWorkspace<Scalar>, columns b: Int,
        inputGradient: UnsafeMutableBufferPointer<Scalar>, parameterGradient: UnsafeMutableBufferPointer<Scalar>,
        accumulate: Bool
    ) {
        let capacity = workspace.capacity
        let values = workspace.values
        workspace.adjoints.withUnsafeMutableBufferPointer { adjointBuffer in
            values.withUnsafeBufferPointer { valueBuffer in
                let v = valueBuffer.baseAddress!
                let a = adjointBuffer.baseAddress!
                let p = parameters.baseAddress
                let dp = parameterGradient.baseAddress
                // Adjoints accumulate (a slot read by a skip connection or several branches gets
                // one contribution per reader), so they start at zero.
                a.update(repeating: 0, count: adjointBuffer.count)
                let last = slotStarts[slotStarts.count - 1] * capacity
                (a + last).update(from: dy.baseAddress!, count: outputCount * b)
                if !accumulate, let dp { dp.update(repeating: 0, count: parameterCount) }
                // Indexing, not iterating `operations.reversed()`: the reversed view read each
                // element through Array's `_read` coroutine, whose frame was heap-allocated (one
                // malloc per operation per pullback, measured with an LD_PRELOAD counter).
                for index in stride(from: operations.count - 1, through: 0, by: -1) {
                    switch operations[index] {
                    case .dense(let d):
                        let p = p!
                        let dp = dp!
                        let n = d.outputCount
                        let m = d.inputCount
                        let xs = v + slotStarts[d.input] * capacity
                        let dz: UnsafeMutablePointer<Scalar>
                        if d.pre != d.output {
                            let dout = a + slotStarts[d.output] * capacity
                            let z = v + slotStarts[d.pre] * capacity
                            dz = a + slotStarts[d.pre] * capacity
                            let y = v + slotStarts[d.output] * capacity
                            d.activation._scaleByDerivative(dout, at: z, output: y, into: dz, count: n * b)
                        } else {
                            dz = a + slotStarts[d.output] * capacity
                        }
                        // dW += dZ Xᵀ. For one column an outer product, as a loop: gemm with an
                        // inner dimension of 1 went through OpenBLAS's level-3 driver (a mutex and
                        // a buffer per call), and dger through one axpy call per column, each
                        // costlier than the loop at the widths of an ODE right-hand side.
                        if b == 1 {
                            let dw = dp + d.weightOffset
                            for j in 0..<m {
                                let xj = xs[j]
                                let column = dw + j * n
                                for i in 0..<n { column[i] += dz[i] * xj }
                            }
                        } else {
                            Scalar._gemm(
                                transposeA: false, transposeB: true, m: Int32(n), n: Int32(m), k: Int32(b), alpha: 1,
                                dz, leadingDimensionA: Int32(n), xs, leadingDimensionB: Int32(m),
                                beta: 1, dp + d.weightOffset, leadingDimensionC: Int32(n))
                        }
                        if d.biasOffset >= 0 {
                            let db = dp + d.biasOffset
                            for j in 0..<b {
                                for i in 0..<n { db[i] += dz[i + j * n] }
                            }
                        }
                        // dX += Wᵀ dZ.
                        let dx = a + slotStarts[d.input] * capacity
                        if b == 1 {
                            Scalar._gemv(
                                transposed: true, rows: Int32(n), columns: Int32(m), alpha: 1,
                                p + d.weightOffset, leadingDimension: Int32(n), dz, beta: 1, dx)
                        } else {
                            Scalar._gemm(
                                transposeA: true, transposeB: false, m: Int32(m), n: Int32(b), k: Int32(n), alpha: 1,
                                p + d.weightOffset, leadingDimensionA: Int32(n), dz, leadingDimensionB: Int32(n),
                                beta: 1, dx, leadingDimensionC: Int32(m))
                        }
                    case .elementwise(let input, let output, let count, let function):
                        let xs = v + slotStarts[input] * capacity
                        let dout = a + slotStarts[output] * capacity
                        let dx = a + slotStarts[input] * capacity
                        let ys = v + slotStarts[output] * capacity
                        for k in 0..<(count * b) { dx[k] += dout[k] * function.derivative(xs[k], output: ys[k]) }
                    case .add(let first, let second, let output, let count):
                        let dout = a + slotStarts[output] * capacity
                        let d1 = a + slotStarts[first] * capacity
                        let d2 = a + slotStarts[second] * capacity
                        for k in 0..<(count * b) {
                            d1[k] += dout[k]
                            d2[k] += dout[k]
                        }
                    case .place(let input, let output, let count, let rowOffset, let outputCount):
                        let dout = a + slotStarts[output] * capacity
                        let dx = a + slotStarts[input] * capacity
                        for j in 0..<b {
                            for i in 0..<count { dx[i + j * count] += dout[rowOffset + i + j * outputCount] }
                        }
                    }
                }
                let dx = inputGradient.baseAddress!
                if accumulate {
                    for k in 0..<(inputCount * b) { dx[k] += a[k] }
                } else {
                    dx.update(from: a, count: inputCount * b)
                }
            }
        }
    }
}
