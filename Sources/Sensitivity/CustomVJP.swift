import DiffEqCore

/// A model that supplies its own vector-Jacobian products `vᵀ∂f/∂u`, `vᵀ∂f/∂p`, which every
/// adjoint method (``InterpolatingAdjoint``, ``QuadratureAdjoint``, ``BacksolveAdjoint``,
/// SensitivityCVODES's `CVODESAdjoint`) then uses instead of the reverse-mode tape or dual numbers.
///
/// A neural network written with hand-written pullbacks (the NeuralDE module's `NetworkRHS`) is
/// the intended user: its products through BLAS cost about as much as one evaluation, with no
/// tape to record. The generic ``ODEModel/rhs(_:_:_:_:)`` must still be implemented for every
/// scalar, since forward-mode methods and stiff Jacobians run it on dual numbers.
///
/// Each gradient makes one workspace with ``makeVJPWorkspace(stateCount:parameters:)`` and passes
/// it to every product, so a product need not allocate and one model value can serve gradients
/// on several threads.
public protocol ODEModelWithVJP: ODEModel {
    associatedtype VJPWorkspace
    /// The buffers of one gradient's products.
    func makeVJPWorkspace(stateCount n: Int, parameters p: [Double]) -> VJPWorkspace
    /// Writes `vᵀ∂f/∂u` at `(u, p, t)` into `du` (length `n`) and `vᵀ∂f/∂p` into `dp`
    /// (length `p.count`), overwriting both.
    func vjp(
        _ workspace: inout VJPWorkspace, u: UnsafeBufferPointer<Double>, p: UnsafeBufferPointer<Double>, t: Double,
        v: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>, dp: UnsafeMutableBufferPointer<Double>)
}

/// A model's own products behind one class (a virtual call per product), found once per
/// gradient by the protocol check in `_VJPEngine`.
@usableFromInline
class _CustomVJP {
    @usableFromInline init() {}
    @usableFromInline
    func vjp(_ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]) {
        fatalError("abstract")
    }
}

@usableFromInline
final class _ModelVJP<M: ODEModelWithVJP>: _CustomVJP {
    @usableFromInline let model: M
    @usableFromInline var workspace: M.VJPWorkspace

    @usableFromInline
    init(_ model: M, n: Int, p: [Double]) {
        self.model = model
        self.workspace = model.makeVJPWorkspace(stateCount: n, parameters: p)
    }

    @usableFromInline
    override func vjp(
        _ u: [Double], _ p: [Double], _ t: Double, _ v: [Double], _ du: inout [Double], _ dp: inout [Double]
    ) {
        u.withUnsafeBufferPointer { u in
            p.withUnsafeBufferPointer { p in
                v.withUnsafeBufferPointer { v in
                    du.withUnsafeMutableBufferPointer { du in
                        dp.withUnsafeMutableBufferPointer { dp in
                            model.vjp(&workspace, u: u, p: p, t: t, v: v, du: du, dp: dp)
                        }
                    }
                }
            }
        }
    }
}

/// The model's own products when it conforms to ``ODEModelWithVJP`` (a check against the
/// protocol, not against any concrete type), else `nil`.
@inlinable
func _customVJP<Model: ODEModel>(_ model: Model, n: Int, p: [Double]) -> _CustomVJP? {
    guard let custom = model as? any ODEModelWithVJP else { return nil }
    return _openCustomVJP(custom, n: n, p: p)
}

@inlinable
func _openCustomVJP<M: ODEModelWithVJP>(_ model: M, n: Int, p: [Double]) -> _CustomVJP {
    _ModelVJP(model, n: n, p: p)
}
