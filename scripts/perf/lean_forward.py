"""Lean PyTorch forward of all-MiniLM-L6-v2 over the bench-vs-python corpus
(length-sorted batches of 32, 2 threads), used for docs/performance.md:

  .venv/bin/python scripts/perf/lean_forward.py profile   # MKL vs oneDNN linear, torch.profiler table
  .venv/bin/python scripts/perf/lean_forward.py fusion    # fused QKV / GELU-fused linear
  .venv/bin/python scripts/perf/lean_forward.py bf16      # bf16 per-linear casts vs end to end
  .venv/bin/python scripts/perf/lean_forward.py gemm      # GFLOP/s of the linear kernels
  .venv/bin/python scripts/perf/lean_forward.py attention # fused SDPA vs explicit attention, per length
  .venv/bin/python scripts/perf/lean_forward.py dynquant  # torch's own dynamic int8 (quantize_dynamic) vs ST fp32

Run from the repository root after scripts/setup.
"""
import sys
from pathlib import Path
def build_corpus(n=4096):
    """The corpus of scripts/bench-vs-python: n sentences spread over the real data."""
    sents=[]
    for line in Path('data/trec_question_labels.txt').read_text(errors='replace').split('\n'):
        l,_,r=line.partition(' ')
        if r.strip(): sents.append(' '.join(r.split()))
    for f in sorted(Path('data/hutto_ICWSM_2014').glob('*_GroundTruth.txt')):
        for line in f.read_text(errors='replace').split('\n')[1:]:
            p=line.split('\t',2)
            if len(p)==3 and p[2].strip(): sents.append(' '.join(p[2].split()))
    return [sents[i*len(sents)//n] for i in range(n)]
import torch, time, json
from transformers import AutoTokenizer
from safetensors.torch import load_file
torch.set_num_threads(2)
M='models/all-MiniLM-L6-v2'
tok=AutoTokenizer.from_pretrained(M)
sd=load_file(M+'/model.safetensors')
sents=build_corpus()
enc=[tok(s, truncation=True, max_length=256)['input_ids'] for s in sents]
order=sorted(range(len(enc)), key=lambda i:-len(enc[i]))
batches=[order[i:i+32] for i in range(0,len(order),32)]
def g(k): return sd[k]
L=6;H=384;nh=12;hd=32
W={k:v for k,v in sd.items()}
def lin(x,p,fast):
    w,b=W[p+'.weight'],W[p+'.bias']
    if fast: return torch.ops.mkldnn._linear_pointwise(x,w,b,"none",[],"")
    return torch.nn.functional.linear(x,w,b)
def fwd(ids,mask,fast):
    B,T=ids.shape
    x=W['embeddings.word_embeddings.weight'][ids]+W['embeddings.position_embeddings.weight'][:T]+W['embeddings.token_type_embeddings.weight'][0]
    x=torch.nn.functional.layer_norm(x,(H,),W['embeddings.LayerNorm.weight'],W['embeddings.LayerNorm.bias'],1e-12)
    am=mask.bool()[:,None,None,:] if (mask==0).any() else None
    for i in range(L):
        p=f'encoder.layer.{i}.'
        q=lin(x,p+'attention.self.query',fast).view(B,T,nh,hd).transpose(1,2)
        k=lin(x,p+'attention.self.key',fast).view(B,T,nh,hd).transpose(1,2)
        v=lin(x,p+'attention.self.value',fast).view(B,T,nh,hd).transpose(1,2)
        c=torch.nn.functional.scaled_dot_product_attention(q,k,v,attn_mask=am).transpose(1,2).reshape(B,T,H)
        x=torch.nn.functional.layer_norm(lin(c,p+'attention.output.dense',fast)+x,(H,),W[p+'attention.output.LayerNorm.weight'],W[p+'attention.output.LayerNorm.bias'],1e-12)
        f=torch.nn.functional.gelu(lin(x,p+'intermediate.dense',fast))
        x=torch.nn.functional.layer_norm(lin(f,p+'output.dense',fast)+x,(H,),W[p+'output.LayerNorm.weight'],W[p+'output.LayerNorm.bias'],1e-12)
    m=mask[...,None].float()
    return (x*m).sum(1)/m.sum(1).clamp(min=1e-9)
pads=[]
for b in batches:
    T=max(len(enc[i]) for i in b)
    ids=torch.zeros(len(b),T,dtype=torch.long); mask=torch.zeros(len(b),T,dtype=torch.long)
    for r,i in enumerate(b):
        ids[r,:len(enc[i])]=torch.tensor(enc[i]); mask[r,:len(enc[i])]=1
    pads.append((ids,mask))

def profile():
    print('tokens', sum(len(e) for e in enc), 'padded', sum(i.numel() for i,_ in pads))
    with torch.inference_mode():
        for fast in [False, True]:
            for ids,mask in pads[:5]: fwd(ids,mask,fast)
            s=time.perf_counter()
            for ids,mask in pads: fwd(ids,mask,fast)
            t=time.perf_counter()-s
            print('fast' if fast else 'mkl', round(4096/t,1),'sent/s')
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for ids,mask in pads: fwd(ids,mask,True)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))


def fusion():
    F=torch.nn.functional
    def lp(x,w,b,attr="none"): return torch.ops.mkldnn._linear_pointwise(x,w,b,attr,[],"none" if attr=="gelu" else "")
    QKV={i:(torch.cat([W[f'encoder.layer.{i}.attention.self.{n}.weight'] for n in ['query','key','value']]),torch.cat([W[f'encoder.layer.{i}.attention.self.{n}.bias'] for n in ['query','key','value']])) for i in range(L)}
    def fwd2(ids,mask,fuse_qkv,fuse_gelu):
        B,T=ids.shape
        x=W['embeddings.word_embeddings.weight'][ids]+W['embeddings.position_embeddings.weight'][:T]+W['embeddings.token_type_embeddings.weight'][0]
        x=F.layer_norm(x,(H,),W['embeddings.LayerNorm.weight'],W['embeddings.LayerNorm.bias'],1e-12)
        am=mask.bool()[:,None,None,:] if (mask==0).any() else None
        for i in range(L):
            p=f'encoder.layer.{i}.'
            if fuse_qkv:
                qkv=lp(x,*QKV[i]).view(B,T,3,nh,hd).permute(2,0,3,1,4)
                q,k,v=qkv[0],qkv[1],qkv[2]
            else:
                q=lin(x,p+'attention.self.query',True).view(B,T,nh,hd).transpose(1,2)
                k=lin(x,p+'attention.self.key',True).view(B,T,nh,hd).transpose(1,2)
                v=lin(x,p+'attention.self.value',True).view(B,T,nh,hd).transpose(1,2)
            c=F.scaled_dot_product_attention(q,k,v,attn_mask=am).transpose(1,2).reshape(B,T,H)
            x=F.layer_norm(lin(c,p+'attention.output.dense',True)+x,(H,),W[p+'attention.output.LayerNorm.weight'],W[p+'attention.output.LayerNorm.bias'],1e-12)
            if fuse_gelu: f=lp(x,W[p+'intermediate.dense.weight'],W[p+'intermediate.dense.bias'],"gelu")
            else: f=F.gelu(lin(x,p+'intermediate.dense',True))
            x=F.layer_norm(lin(f,p+'output.dense',True)+x,(H,),W[p+'output.LayerNorm.weight'],W[p+'output.LayerNorm.bias'],1e-12)
        m=mask[...,None].float()
        return (x*m).sum(1)/m.sum(1).clamp(min=1e-9)
    with torch.inference_mode():
        ref=torch.cat([fwd2(i,m,False,False) for i,m in pads[:20]])
        for rep in range(2):
          for cfg in [(False,False),(True,False),(False,True),(True,True)]:
            out=torch.cat([fwd2(i,m,*cfg) for i,m in pads[:20]])
            s=time.perf_counter()
            for ids,mask in pads: fwd2(ids,mask,*cfg)
            t=time.perf_counter()-s
            print(cfg, round(4096/t,1),'sent/s', 'maxdiff', float((out-ref).abs().max()))


def bf16():
    F=torch.nn.functional
    WB={k:v.bfloat16() for k,v in W.items()}
    def lp(x,w,b): return torch.ops.mkldnn._linear_pointwise(x,w,b,"none",[],"")
    def fwd3(ids,mask,mode):
        # mode 'cast': bf16 only inside linears; 'e2e': bf16 activations throughout, LN in bf16
        B,T=ids.shape
        x=W['embeddings.word_embeddings.weight'][ids]+W['embeddings.position_embeddings.weight'][:T]+W['embeddings.token_type_embeddings.weight'][0]
        x=F.layer_norm(x,(H,),W['embeddings.LayerNorm.weight'],W['embeddings.LayerNorm.bias'],1e-12)
        if mode=='e2e': x=x.bfloat16()
        am=mask.bool()[:,None,None,:] if (mask==0).any() else None
        def L_(x,p):
            if mode=='e2e': return lp(x,WB[p+'.weight'],WB[p+'.bias'])
            return lp(x.bfloat16(),WB[p+'.weight'],WB[p+'.bias']).float()
        Wn = WB if mode=='e2e' else W
        for i in range(L):
            p=f'encoder.layer.{i}.'
            q=L_(x,p+'attention.self.query').view(B,T,nh,hd).transpose(1,2)
            k=L_(x,p+'attention.self.key').view(B,T,nh,hd).transpose(1,2)
            v=L_(x,p+'attention.self.value').view(B,T,nh,hd).transpose(1,2)
            c=F.scaled_dot_product_attention(q,k,v,attn_mask=am).transpose(1,2).reshape(B,T,H)
            x=F.layer_norm(L_(c,p+'attention.output.dense')+x,(H,),Wn[p+'attention.output.LayerNorm.weight'],Wn[p+'attention.output.LayerNorm.bias'],1e-12)
            f=F.gelu(L_(x,p+'intermediate.dense'))
            x=F.layer_norm(L_(f,p+'output.dense')+x,(H,),Wn[p+'output.LayerNorm.weight'],Wn[p+'output.LayerNorm.bias'],1e-12)
        x=x.float()
        m=mask[...,None].float()
        e=(x*m).sum(1)/m.sum(1).clamp(min=1e-9)
        return F.normalize(e,dim=-1)
    with torch.inference_mode():
        import torch.nn.functional as Fn
        for rep in range(2):
          res={}
          for mode in ['cast','e2e']:
            s=time.perf_counter()
            outs=[fwd3(i,m,mode) for i,m in pads]
            t=time.perf_counter()-s
            res[mode]=torch.cat(outs)
            print(mode, round(4096/t,1),'sent/s')
          print('cos between modes mean', float((res['cast']*res['e2e']).sum(1).mean()), 'min', float((res['cast']*res['e2e']).sum(1).min()))


def gemm():
    import time
    torch.set_num_threads(2)
    def t(f,n=50):
        f(); f(); s=time.perf_counter()
        for _ in range(n): f()
        return (time.perf_counter()-s)/n
    for (M,K,N) in [(640,384,1536),(640,1536,384),(640,384,384)]:
        x=torch.randn(M,K); w=torch.randn(N,K); b=torch.randn(N)
        fl=2*M*K*N
        with torch.no_grad():
            r={}
            r['mkl']=fl/t(lambda: torch.nn.functional.linear(x,w,b))/1e9
            r['onednn']=fl/t(lambda: torch.ops.mkldnn._linear_pointwise(x,w,b,"none",[],""))/1e9
            wp=torch.ops.mkldnn._reorder_linear_weight(w, M)
            r['onednn_packed']=fl/t(lambda: torch.ops.mkldnn._linear_pointwise(x,wp,b,"none",[],""))/1e9
            xb,wb,bb=x.bfloat16(),w.bfloat16(),b.bfloat16()
            r['bf16']=fl/t(lambda: torch.ops.mkldnn._linear_pointwise(xb,wb,bb,"none",[],""))/1e9
            xq=torch.randint(-127,127,(M,K),dtype=torch.int8); wq=torch.randint(-127,127,(K,N),dtype=torch.int8)
            r['int_mm']=fl/t(lambda: torch._int_mm(xq,wq))/1e9
        print((M,K,N), {k:round(v) for k,v in r.items()})


def attention():
    """Fused scaled_dot_product_attention vs matmul-softmax-matmul, batch 32,
    12 heads of 32, a third of the rows padded by 3; median of 5 x 20 calls."""
    F=torch.nn.functional
    def t(f,n=20):
        for _ in range(5): f()
        runs=[]
        for _ in range(5):
            s=time.perf_counter()
            for _ in range(n): f()
            runs.append((time.perf_counter()-s)/n*1e6)
        return sorted(runs)[2]
    s=hd**-0.5
    def explicit(q,k,v,m):
        sc=torch.matmul(q*s,k.transpose(-1,-2)).masked_fill(~m,float('-inf'))
        return torch.matmul(sc.softmax(-1),v)
    with torch.inference_mode():
        for T in [10,21,30,64,128,256]:
            for dt in [torch.float32,torch.bfloat16]:
                q,k,v=[torch.randn(32,nh,T,hd).to(dt) for _ in range(3)]
                m=torch.ones(32,1,1,T,dtype=torch.bool); m[::3,...,-3:]=False
                a=t(lambda: F.scaled_dot_product_attention(q,k,v,attn_mask=m))
                b=t(lambda: explicit(q,k,v,m))
                d=float((explicit(q,k,v,m).float()-F.scaled_dot_product_attention(q,k,v,attn_mask=m).float()).abs().max())
                print(f"T={T} {str(dt)[6:]}: fused {a:.0f} us, explicit {b:.0f} us, fused/explicit {a/b:.2f}, max diff {d:.1e}")


def dynquant():
    """torch.ao dynamic int8 quantization of sentence-transformers' linears
    (fbgemm, x86 and onednn engines) against ST fp32, same corpus, batch 32."""
    from sentence_transformers import SentenceTransformer
    def run(model):
        model.encode(sents[:64],batch_size=32)
        s=time.perf_counter(); e=model.encode(sents,batch_size=32,convert_to_tensor=True)
        return len(sents)/(time.perf_counter()-s), e
    speed,ref=run(SentenceTransformer(M,device='cpu').eval())
    print('st fp32', round(speed,1), 'sent/s')
    for engine in ['fbgemm','x86','onednn']:
        torch.backends.quantized.engine=engine
        q=torch.ao.quantization.quantize_dynamic(SentenceTransformer(M,device='cpu').eval(),{torch.nn.Linear},dtype=torch.qint8)
        speed,e=run(q)
        c=torch.nn.functional.cosine_similarity(e,ref)
        print('dynamic int8', engine, round(speed,1), 'sent/s, cosine to fp32 mean', round(float(c.mean()),4), 'min', round(float(c.min()),4))


if __name__ == "__main__":
    {"profile": profile, "fusion": fusion, "bf16": bf16, "gemm": gemm, "attention": attention, "dynquant": dynquant}[sys.argv[1] if len(sys.argv) > 1 else "profile"]()
