import DiffEqCore
import ProblemLibrary
import Testing

/// Checks every model of the library passes: analytic Jacobian against central differences, and
/// the generic right-hand side (and Jacobian) under Float against Double.
@Suite struct ModelConformanceTests {
    // Relative 1e-6 per entry. The floor is 1e-9 of the size of the terms of row i divided by
    // |u_j|, about 50 times the rounding error of the difference quotient; it only matters for
    // entries that are zero or tiny next to the rest of their row.
    @Test(arguments: Models.names)
    func analyticJacobianMatchesCentralDifferences(_ name: String) {
        let m = Models.named(name)
        let n = m.dimension
        for u in m.states {
            let J = m.jacobian(u, m.p)
            let fd = centralDifferenceJacobian(m, u)
            let f = m.rhs(u, m.p)
            for i in 0..<n {
                let scale = termScale(J, u, f, row: i)
                for j in 0..<n {
                    let a = J[i + j * n], b = fd[i + j * n]
                    let tol = 1e-6 * max(abs(a), abs(b)) + 1e-9 * scale / max(abs(u[j]), 1e-300)
                    #expect(abs(a - b) <= tol, "\(name): J[\(i), \(j)] = \(a), central difference \(b)")
                }
            }
        }
    }

    @Test(arguments: Models.names)
    func floatRightHandSideMatchesDouble(_ name: String) {
        let m = Models.named(name)
        let n = m.dimension
        let pF = m.p.map { Float($0) }
        for u in m.states {
            let uF = u.map { Float($0) }
            let f = m.rhs(u, m.p), fF = m.rhsFloat(uF, pF)
            let J = m.jacobian(u, m.p), JF = m.jacobianFloat(uF, pF)
            #expect(fF.count == n && JF.count == n * n)
            for i in 0..<n {
                // Float rounding of inputs and operations is about 6e-8 of the terms.
                let scale = termScale(J, u, f, row: i)
                #expect(abs(Double(fF[i]) - f[i]) <= 1e-5 * scale, "\(name): f[\(i)] Float \(fF[i]), Double \(f[i])")
                var rowMax = 0.0
                for j in 0..<n { rowMax = max(rowMax, abs(J[i + j * n])) }
                for j in 0..<n {
                    let a = J[i + j * n], b = Double(JF[i + j * n])
                    #expect(abs(a - b) <= 1e-4 * rowMax, "\(name): J[\(i), \(j)] Float \(b), Double \(a)")
                }
            }
        }
    }

    @Test func factoriesBuildFloatProblems() {
        #expect(TestProblems.pleiades(Float.self).resolvedInitialState().count == 28)
        #expect(TestProblems.arenstorf(Float.self).resolvedInitialState().count == 4)
        #expect(TestProblems.detestA2(Float.self).resolvedInitialState() == [1])
        #expect(TestProblems.detestA4(Float.self).resolvedInitialState() == [1])
        #expect(TestProblems.hires(Float.self).resolvedInitialState().count == 8)
        #expect(TestProblems.pollution(Float.self).resolvedInitialState().count == 20)
        #expect(TestProblems.orego(Float.self).resolvedInitialState() == [1, 2, 3])
        #expect(TestProblems.vanDerPol(Float.self).resolvedInitialState() == [2, 0])
    }
}

/// The fixed-size stiff problems (StaticProblems.swift) against their array forms: the same
/// right-hand side and analytic Jacobian, bit for bit, at the conformance states; the same
/// initial values, span and parameters.
@Suite struct StaticStiffProblemTests {
    static func expectSame<F: StaticODEFunction>(
        _ f: F, _ p: F.Parameters, _ name: String, declaredAutonomous: Bool
    ) where F.State.Scalar == Double {
        let m = Models.named(name)
        let n = m.dimension
        #expect(f.hasAnalyticJacobian && f.isAutonomous == declaredAutonomous)
        for u in m.states {
            var state = F.State()
            #expect(state.scalarCount == n)
            for i in 0..<n { state[i] = u[i] }
            #expect(f(state, p, 0).array == m.rhs(u, m.p), "\(name) f at \(u)")
            let J = f.jacobian(state, p, 0)
            let arrayJ = m.jacobian(u, m.p)
            for j in 0..<n { for i in 0..<n { #expect(J[i, j] == arrayJ[i + j * n], "\(name) J[\(i), \(j)]") } }
        }
    }

    @Test func vanDerPolMatchesTheArrayModel() {
        let s = TestProblems.staticVanDerPol(), a = TestProblems.vanDerPol()
        Self.expectSame(s.f, s.p, "VanDerPol", declaredAutonomous: VanDerPol().isAutonomous)
        #expect(s.u0.array == a.resolvedInitialState() && s.tspan == a.resolvedTimeSpan() && [s.p] == a.p)
    }

    @Test func hiresMatchesTheArrayModel() {
        let s = TestProblems.staticHires(), a = TestProblems.hires()
        Self.expectSame(s.f, s.p, "Hires", declaredAutonomous: Hires().isAutonomous)
        #expect(s.u0.array == a.resolvedInitialState() && s.tspan == a.resolvedTimeSpan() && s.p.array == a.p)
    }
}
