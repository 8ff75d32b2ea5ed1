import Testing
import DiffEqCore
import ExplicitRK

/// Dual numbers through the fixed-size form: a `FixedVector<2, Dual<4, Double>>` state must give
/// the array form's `[Dual<4, Double>]` solve bit for bit, value and partials (the same stage
/// sums, the same error norm over every component, DESIGN.md §4), and the partials must be the
/// derivatives of the end state.
@Suite struct DualStaticStateTests {
    typealias D = Dual<4, Double>

    /// Lotka-Volterra, `u' = (a u − b u v, −c v + d u v)`, in the array model's operation order.
    struct LotkaVolterraModel: ODEModel {
        func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
            du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
            du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
        }
    }

    struct StaticLotkaVolterraDual: StaticODEFunction {
        func callAsFunction(_ u: FixedVector<2, D>, _ p: FixedVector<4, D>, _ t: Double) -> FixedVector<2, D> {
            FixedVector([p[0] * u[0] - p[1] * u[0] * u[1], -p[2] * u[1] + p[3] * u[0] * u[1]] as InlineArray)
        }
    }

    /// The parameters seeded as the four directions.
    static let p: [D] = [1.5, 1, 3, 1].enumerated().map { D($0.element, seed: $0.offset) }
    static let u0: [D] = [1, 1]

    static func bits(_ x: D) -> [UInt64] { [x.value.bitPattern] + (0..<4).map { x.partials[$0].bitPattern } }

    @Test(arguments: [1e-4, 1e-8])
    func matchesTheArrayFormBitwise(_ tol: Double) throws {
        let options = SolveOptions(reltol: tol, abstol: .scalar(tol), saveat: .every(2.5))
        let arrayForm = try Tsit5().solve(
            ODEProblem(model: LotkaVolterraModel(), u0: Self.u0, tspan: (0, 10), p: Self.p), options: options)
        let fixed = try Tsit5().solve(
            StaticODEProblem(
                StaticLotkaVolterraDual(), u0: FixedVector([Self.u0[0], Self.u0[1]] as InlineArray), tspan: (0, 10),
                p: FixedVector([Self.p[0], Self.p[1], Self.p[2], Self.p[3]] as InlineArray)),
            options: options)
        #expect(fixed.retcode == .success && arrayForm.retcode == .success)
        #expect(fixed.stats == arrayForm.stats)
        #expect(fixed.t == arrayForm.t)
        #expect(fixed.u.count == arrayForm.u.count)
        for (a, b) in zip(fixed.u, arrayForm.u) {
            #expect(a.components.map(Self.bits) == b.map(Self.bits))
        }
    }

    /// The partials are the end state's derivatives with respect to the parameters: against
    /// central differences of plain solves at a tight tolerance.
    @Test func partialsAreTheDerivatives() throws {
        let options = SolveOptions(reltol: 1e-11, abstol: 1e-11, saveEverystep: false)
        let fixed = try Tsit5().solve(
            StaticODEProblem(
                StaticLotkaVolterraDual(), u0: FixedVector([Self.u0[0], Self.u0[1]] as InlineArray), tspan: (0, 10),
                p: FixedVector([Self.p[0], Self.p[1], Self.p[2], Self.p[3]] as InlineArray)),
            options: options)
        let end = try #require(fixed.u.last)
        let base = [1.5, 1, 3, 1]
        for j in 0..<4 {
            let h = 1e-6
            func endState(_ shift: Double) throws -> [Double] {
                var p = base
                p[j] += shift
                return try Tsit5().solve(
                    ODEProblem(model: LotkaVolterraModel(), u0: [1.0, 1.0], tspan: (0, 10), p: p), options: options
                ).u.last!
            }
            let (plus, minus) = (try endState(h), try endState(-h))
            for i in 0..<2 {
                let difference = (plus[i] - minus[i]) / (2 * h)
                #expect(Swift.abs(end[i].partials[j] - difference) <= 1e-5 * Swift.max(1, Swift.abs(difference)), "∂u\(i)/∂p\(j)")
            }
        }
    }
}
