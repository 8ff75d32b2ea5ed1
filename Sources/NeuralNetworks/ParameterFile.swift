// Saving and loading parameters as JSON.

public import Foundation

/// The JSON form of a parameter vector: the views it was saved with (so a file is checked
/// against the network it is loaded into) and the values in flat storage order. Values are
/// written as decimal numbers that read back to the same bits (Foundation's shortest
/// round-trip form); NaN and infinities are refused, as JSON has no literal for them.
public struct ParameterFile: Codable, Sendable, Equatable {
    /// `"Float64"` or `"Float32"`.
    public var scalarType: String
    public var views: [ParameterView]
    public var values: [Double]
}

extension Chain {
    /// The parameters as JSON data. Throws ``NetworkError/nonFinite(what:index:)`` for a NaN or
    /// infinite entry.
    public func encodeParameters(_ parameters: [Scalar]) throws(NetworkError) -> Data {
        guard parameters.count == parameterCount else {
            throw .dimensionMismatch(what: "parameters.count", expected: parameterCount, got: parameters.count)
        }
        if let bad = parameters.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(what: "parameters", index: bad) }
        let file = ParameterFile(
            scalarType: Scalar.self == Float.self ? "Float32" : "Float64", views: parameterViews,
            values: parameters.map { Double($0) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try encoder.encode(file)
        } catch {
            throw .io(String(describing: error))
        }
    }

    /// Parameters from JSON data written by ``encodeParameters(_:)``; throws when the views do
    /// not match this network's or a value is not representable.
    public func decodeParameters(_ data: Data) throws(NetworkError) -> [Scalar] {
        let file: ParameterFile
        do {
            file = try JSONDecoder().decode(ParameterFile.self, from: data)
        } catch {
            throw .io(String(describing: error))
        }
        guard file.views == parameterViews else {
            throw .parameterFileMismatch("its parameter views differ from this network's")
        }
        guard file.values.count == parameterCount else {
            throw .parameterFileMismatch("\(file.values.count) values for \(parameterCount) parameters")
        }
        var parameters = [Scalar](repeating: 0, count: parameterCount)
        for (k, value) in file.values.enumerated() {
            let converted = Scalar(value)
            guard converted.isFinite else { throw .nonFinite(what: "values", index: k) }
            parameters[k] = converted
        }
        return parameters
    }

    /// Writes the parameters to a JSON file.
    public func saveParameters(_ parameters: [Scalar], to url: URL) throws(NetworkError) {
        let data = try encodeParameters(parameters)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw .io(String(describing: error))
        }
    }

    /// Reads parameters from a JSON file written by ``saveParameters(_:to:)``.
    public func loadParameters(from url: URL) throws(NetworkError) -> [Scalar] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .io(String(describing: error))
        }
        return try decodeParameters(data)
    }
}
