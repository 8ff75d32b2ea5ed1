// Creating, reading and setting the flat parameter vector through its named views.

public import DenseLinearAlgebra

extension Chain {
    /// Fresh parameters from each block's ``Initializer`` (Glorot uniform weights and zero biases
    /// by default), drawn from ``SplitMix64`` with this seed: parameter `k` of the flat vector
    /// uses draw `k`, so a seed gives the same weights on every machine (the Glorot-normal variant
    /// up to the last bit of libm's `log`/`cos`, see ``SplitMix64/normal(at:)``). For `Float` the
    /// draw is made in `Double` and rounded once.
    public func initialParameters(seed: UInt64) -> [Scalar] {
        let generator = SplitMix64(seed: seed)
        var parameters = [Scalar](repeating: 0, count: parameterCount)
        for (view, (initializer, fanIn, fanOut)) in zip(parameterViews, initializers) {
            for index in view.range {
                parameters[index] = Scalar(initializer.draw(generator, index: index, fanIn: fanIn, fanOut: fanOut))
            }
        }
        return parameters
    }

    /// A copy of one block as a matrix (a bias is `rows x 1`).
    public func values(of name: String, in parameters: [Scalar]) throws(NetworkError) -> Matrix<Scalar> {
        let view = try view(named: name)
        guard parameters.count == parameterCount else {
            throw .dimensionMismatch(what: "parameters.count", expected: parameterCount, got: parameters.count)
        }
        do {
            return try Matrix(rows: view.rows, columns: view.columns, columnMajor: Array(parameters[view.range]))
        } catch {
            // The view's shape matches its range by construction.
            throw .dimensionMismatch(what: name, expected: view.count, got: view.count)
        }
    }

    /// Sets a block from a list of rows (the row-major nested arrays of the peers' JSON files and
    /// of NumPy's `tolist()`): `rows[i][j]` becomes entry (i, j). A bias takes one value per row
    /// (`[[b0], [b1], ...]`) or use ``assign(_:to:in:)``.
    public func assign(rows: [[Scalar]], to name: String, in parameters: inout [Scalar]) throws(NetworkError) {
        let view = try view(named: name)
        guard parameters.count == parameterCount else {
            throw .dimensionMismatch(what: "parameters.count", expected: parameterCount, got: parameters.count)
        }
        guard rows.count == view.rows else {
            throw .dimensionMismatch(what: "\(name) rows", expected: view.rows, got: rows.count)
        }
        for (i, row) in rows.enumerated() where row.count != view.columns {
            throw .raggedRows(what: name, row: i, expected: view.columns, got: row.count)
        }
        for (i, row) in rows.enumerated() {
            for (j, value) in row.enumerated() { parameters[view.offset + i + j * view.rows] = value }
        }
    }

    /// Sets a block from its entries in storage (column-major) order; for a bias, its values.
    public func assign(_ values: [Scalar], to name: String, in parameters: inout [Scalar]) throws(NetworkError) {
        let view = try view(named: name)
        guard parameters.count == parameterCount else {
            throw .dimensionMismatch(what: "parameters.count", expected: parameterCount, got: parameters.count)
        }
        guard values.count == view.count else {
            throw .dimensionMismatch(what: "\(name) count", expected: view.count, got: values.count)
        }
        for (k, value) in values.enumerated() { parameters[view.offset + k] = value }
    }
}
