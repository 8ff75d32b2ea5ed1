import DiffEqCore
import NeuralNetworks
import Testing

/// The second, independent check of the pullbacks: the network written out by hand on
/// DiffEqCore's forward-mode `Dual` (no BLAS, no slots, no shared code with the library), whose
/// directional derivative `J v` must satisfy `dyᵀ (J v) = (Jᵀ dy)ᵀ v` with the library's VJP.
/// Only the test target imports DiffEqCore; NeuralNetworks does not.
@Suite("Pullbacks against dual numbers")
struct DualNumberTests {
    typealias D = Dual<1, Double>

    static func activate(_ a: Activation, _ x: D) -> D {
        switch a {
        case .identity: return x
        case .tanh: return tanh(x)
        case .sigmoid: return D(1) / (D(1) + exp(-x))
        case .softplus: return log1p(exp(x))
        case .swish: return x / (D(1) + exp(-x))
        case .elu(let alpha): return x.value > 0 ? x : D(alpha) * expm1(x)
        case .relu: return x.value > 0 ? x : D(0)
        case .geluTanh:
            let c = D(0.797_884_560_802_865_4)
            return x * (D(1) + tanh(c * (x + D(0.044715) * x * x * x))) / D(2)
        case .gelu: fatalError("no erf on Dual; the exact GELU is checked by central differences")
        }
    }

    /// x.^3 -> Dense(2, h, act) -> Dense(h, 2), written out directly. Weights column-major.
    static func model(_ x: [D], _ p: [D], hidden h: Int, _ act: Activation) -> [D] {
        let u = x.map { $0 * $0 * $0 }
        let w1 = 0
        let b1 = 2 * h
        let w2 = 3 * h
        let b2 = 5 * h
        var hidden = [D](repeating: D(0), count: h)
        for i in 0..<h {
            var z = p[b1 + i]
            for j in 0..<2 { z = z + p[w1 + i + j * h] * u[j] }
            hidden[i] = activate(act, z)
        }
        var y = [D](repeating: D(0), count: 2)
        for i in 0..<2 {
            var z = p[b2 + i]
            for j in 0..<h { z = z + p[w2 + i + j * 2] * hidden[j] }
            y[i] = z
        }
        return y
    }

    @Test(arguments: [Activation.tanh, .sigmoid, .softplus, .swish, .elu, .relu, .geluTanh, .identity])
    func vjpMatchesDualJVP(_ act: Activation) throws {
        let h = 7
        let chain = try Chain<Double>(.power(3), .dense(2, h, act), .dense(h, 2))
        #expect(chain.parameterViews.map(\.offset) == [0, 2 * h, 3 * h, 5 * h])
        let p = chain.initialParameters(seed: 5).enumerated().map { $0.element + 0.05 * Double($0.offset % 5) }
        let x: [Double] = [0.9, -0.6]
        for trial in 0..<3 {
            let dy: [Double] = arbitrary(2, seed: 100 + UInt64(trial))
            let vx: [Double] = arbitrary(2, seed: 200 + UInt64(trial))
            let vp: [Double] = arbitrary(p.count, seed: 300 + UInt64(trial))
            let (y, dx, dp) = try pullback(chain, x: x, parameters: p, dy: dy)
            var xd = [D]()
            var pd = [D]()
            for i in x.indices {
                var d = D(constant: x[i])
                d.partials[0] = vx[i]
                xd.append(d)
            }
            for i in p.indices {
                var d = D(constant: p[i])
                d.partials[0] = vp[i]
                pd.append(d)
            }
            let yd = Self.model(xd, pd, hidden: h, act)
            #expect(relativeError(y, yd.map(\.value)) < 1e-14)
            let jvp = dy[0] * yd[0].partials[0] + dy[1] * yd[1].partials[0]
            let vjp = dot(dx, vx) + dot(dp, vp)
            #expect(abs(jvp - vjp) <= 1e-13 * max(1, abs(jvp)), "\(jvp) vs \(vjp)")
        }
    }
}
